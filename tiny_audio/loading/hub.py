"""Where a checkpoint's files are: a local directory, or a Hub repository at a revision.

A model name may end in ``@REVISION`` (a branch, a tag or a commit) to pin the Hub snapshot:
``mazesmazes/tiny-audio@<commit>``. A local directory is taken as it is, ``@`` and all.

A Hub checkpoint is fetched in three steps, each only the files named: ``config.json`` alone
(checked before anything else is fetched), then the small files that say how its weights are
applied (tokenizer, adapter and LoRA settings), then only the weights files that those name. A
repository that is no checkpoint costs one small file; other weights it holds (training states,
a merged model, files in folders) are never fetched, nor is anything executable (its *.py files).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, Optional

from tiny_audio.loading.trained_weights import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    COURSE_LORA_PARTS,
    course_lora_files,
    course_lora_rank,
    uses_peft_adapter,
)

CONFIG = "config.json"
# A checkpoint's own tokenizer (with its <audio> token and chat template), whichever of these it has.
TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json", "special_tokens_map.json", "added_tokens.json",
                   "vocab.json", "merges.txt", "vocab.txt", "tokenizer.model", "chat_template.jinja",
                   "chat_template.json", "additional_chat_templates/*.jinja")
# The projector is in one of these (the course's bare keys, or under projector. beside a
# fine-tuned decoder's language_model.*); the loader reads whichever the checkpoint has.
PROJECTOR_FILES = ("projector.safetensors", "model.safetensors")
# What says which further weights are applied: the PEFT adapter's and the course-era LoRAs' settings.
WEIGHT_SETTINGS = (ADAPTER_CONFIG, *(course_lora_files(part)[0] for part in COURSE_LORA_PARTS))
# Step 2: the small files a checkpoint's loading reads besides config.json.
SETTINGS_FILES = (*TOKENIZER_FILES, *WEIGHT_SETTINGS)
COMMIT = re.compile(r"[0-9a-f]{40}")


def weight_files(config: dict, settings: dict[str, dict]) -> list[str]:
    """Step 3: the weights files the loader applies, given ``config.json`` and the settings files
    the checkpoint has (name → parsed JSON): the projector's, a PEFT adapter's when the config
    applies it, a course-era LoRA's when its settings ask for one. (A weights file the loader would
    not apply is not fetched, so a Hub checkpoint gets no note that it was there.)"""
    names = list(PROJECTOR_FILES)
    if ADAPTER_CONFIG in settings and uses_peft_adapter(config):
        names.append(ADAPTER_WEIGHTS)
    for part in COURSE_LORA_PARTS:
        settings_name, weights_name = course_lora_files(part)
        part_settings = settings.get(settings_name)
        if isinstance(part_settings, dict) and course_lora_rank(part, part_settings):
            names.append(weights_name)
    return names


def split_revision(spec: str) -> tuple[str, Optional[str]]:
    """``"owner/name@rev"`` → ``("owner/name", "rev")``; a name without ``@``, or an existing
    directory, → ``(spec, None)``. Spaces around the parts are dropped."""
    spec = spec.strip()
    if Path(spec).is_dir() or "@" not in spec:
        return spec, None
    name, revision = (part.strip() for part in spec.rsplit("@", 1))
    if not name or not revision:
        raise ValueError(f"'{spec}': give a model name before '@' and a revision after it")
    return name, revision


def normalize_spec(spec: str) -> str:
    """One spelling per model and revision (``" a/b @ main "`` → ``"a/b@main"``), so that the
    app loads each once."""
    name, revision = split_revision(spec)
    return f"{name}@{revision}" if revision else name


def checkpoint_directory(spec: str, check: Optional[Callable[[dict, str], None]] = None) -> Path:
    """The local directory holding a checkpoint: ``spec`` itself, or a snapshot of the Hub
    repository (at its revision) with only the files its layout needs. ``check(config, where)``
    raises for a ``config.json`` not to be loaded, before any other file is fetched."""
    name, revision = split_revision(spec)
    if Path(name).is_dir():
        return Path(name)
    if Path(name).expanduser().is_absolute() or name.startswith("."):
        raise ValueError(f"'{name}' is not a directory")
    return fetch_checkpoint(HubSnapshot(name, revision), check, shown=name)


class HubSnapshot:
    """One Hub repository at one commit, fetched a few files at a time: ``snapshot(patterns)``
    downloads the files those patterns name (those the repository has) and returns the folder."""

    def __init__(self, name: str, revision: Optional[str]):
        self.name, self.revision = name, revision

    def __call__(self, patterns: list[str]) -> Path:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(self.name, revision=self.revision, allow_patterns=patterns))
        if COMMIT.fullmatch(folder.name):  # the folder is named by its commit: later steps read that
            self.revision = folder.name  # very commit, whatever is pushed to the branch meanwhile
        return folder


def fetch_checkpoint(fetch: Callable[[list[str]], Path], check: Optional[Callable[[dict, str], None]] = None,
                     shown: str = "the checkpoint") -> Path:
    """The three steps: ``config.json`` (checked), the settings files, the weights they name.
    ``fetch(patterns)`` makes those files (the ones there are) appear in its folder."""
    folder = fetch([CONFIG])
    if not (folder / CONFIG).is_file():
        raise ValueError(f"'{shown}' has no config.json: not a Tiny Audio checkpoint")
    config = _read_json(folder / CONFIG)
    if check is not None:
        check(config, f"{shown}'s {CONFIG}")
    fetch(list(SETTINGS_FILES))
    settings = {file: _read_json(folder / file) for file in WEIGHT_SETTINGS if (folder / file).is_file()}
    fetch(weight_files(config, settings))
    return folder


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{path.name} is not valid JSON ({error})") from None
