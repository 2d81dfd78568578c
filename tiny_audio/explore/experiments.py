"""The course's experiments, computed from real modules instead of hand formulas.

- ``downsampling_table`` / ``model_stacking``: Exercise 1, Experiment 1 (frame-stack rates),
  with frame counts from running the projector's own stacking functions.
- ``gate_input`` / ``activation_study`` / ``glu_study``: Exercise 1, Experiment 2, on the real gate
  pre-activations of a clip (random normal data only as a contrast), plus the GLU family built from
  the loaded projector's own gate/up weights, with gradient flow from autograd.
- ``projector_configs``: Exercise 3's configuration table, parameters counted from modules built
  on the ``meta`` device, beside the course's printed numbers (only its first row is right).
- ``decoder_table``: the decoder comparison, from published configs in ``data/decoders.json``;
  parameter counts, projectors and LoRA adapters counted on ``meta``; training memory with every
  assumption spelled out.
- ``stage_grid``: the data of Exercise 2's 2×3 stage-by-stage grid, from a traced result.

Everything returns plain dataclasses (``to_jsonable`` turns them into JSON-ready dicts) and
histograms as counts + edges. Imports torch (and transformers, lazily) only: no UI packages.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tiny_audio.pipeline.audio import SAMPLE_RATE, load_audio
from tiny_audio.pipeline.projector import AudioProjector, MLPAudioProjector, stack_frames_padded, stack_frames_truncated
from tiny_audio.pipeline.trace import Histogram, summarize_tensor

DATA_DIR = Path(__file__).resolve().parent / "data"
STACK_MODES = ("pad", "truncate")


def to_jsonable(value):
    """Dataclasses (nested, in lists or dicts) → plain dicts and lists, for ``json.dumps``."""
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    return value


# ----- 1. Downsampling rates ------------------------------------------------------------------


@dataclass
class RateRow:
    rate: int  # frames stacked into one LLM audio token (k)
    mode: str  # "pad" (course-era SwiGLU projector) or "truncate" (current MLP projector)
    frames_in: int  # encoder frames
    frames_out: int  # LLM audio tokens
    padded_frames: int  # zero frames appended to fill the last group (pad mode)
    dropped_frames: int  # trailing frames discarded (truncate mode)
    ms_per_token: Optional[float]  # audio per LLM token; None when no token comes out
    compression: Optional[float]  # frames_in / frames_out
    embed_bytes_fp32: int  # frames_out × llm_dim × 4
    embed_bytes_bf16: int  # frames_out × llm_dim × 2
    custom: bool = False  # asked for by the user, not one of the course's rates


def stacked_frames(frames_in: int, k: int, mode: str = "pad") -> int:
    """Output frames of the projector's own stacking function on ``frames_in`` frames, checked
    against the closed form (pad: ceil(T/k); truncate: (T-k)//k + 1)."""
    if mode not in STACK_MODES:
        raise ValueError(f"mode must be one of {STACK_MODES}, got {mode!r}")
    if k < 1 or frames_in < 0:
        raise ValueError(f"need k ≥ 1 and frames ≥ 0, got k={k}, frames={frames_in}")
    probe = torch.zeros(1, frames_in, 1)  # one channel: the frame count is all that matters
    if mode == "pad":
        ran = stack_frames_padded(probe, k).shape[1]
        formula = -(-frames_in // k)
    else:
        try:
            ran = stack_frames_truncated(probe, k).shape[1]
        except ValueError:  # fewer frames than k: the projector refuses, nothing comes out
            ran = 0
        formula = max((frames_in - k) // k + 1, 0)
    if ran != formula:
        raise RuntimeError(f"stacking {frames_in} frames at k={k} ({mode}) gave {ran}, formula says {formula}")
    return ran


def rate_row(
    frames_in: int, duration_s: float, llm_dim: int, k: int, mode: str = "pad", custom: bool = False
) -> RateRow:
    frames_out = stacked_frames(frames_in, k, mode)
    return RateRow(
        rate=k,
        mode=mode,
        frames_in=frames_in,
        frames_out=frames_out,
        padded_frames=frames_out * k - frames_in if mode == "pad" else 0,
        dropped_frames=frames_in - frames_out * k if mode == "truncate" else 0,
        ms_per_token=1000.0 * duration_s / frames_out if frames_out else None,
        compression=frames_in / frames_out if frames_out else None,
        embed_bytes_fp32=frames_out * llm_dim * 4,
        embed_bytes_bf16=frames_out * llm_dim * 2,
        custom=custom,
    )


def downsampling_table(
    encoder_frames: int,
    duration_s: float,
    llm_dim: int,
    rates: Iterable[int] = (2, 3, 5, 8, 10),
    custom: Union[int, Iterable[int], None] = None,
    mode: str = "pad",
) -> list[RateRow]:
    """One row per stack rate: the course's rates, then any custom ones (marked ``custom``)."""
    extra = [custom] if isinstance(custom, int) else list(custom or [])
    rows, seen = [], set()
    for k, is_custom in [(int(r), False) for r in rates] + [(int(r), True) for r in extra]:
        if k in seen:
            continue
        seen.add(k)
        rows.append(rate_row(encoder_frames, duration_s, llm_dim, k, mode, is_custom))
    return rows


@dataclass
class ModelStacking:
    """What the loaded model's projector actually did to a clip's encoder frames."""

    projector: str  # class name
    k: int
    mode: str  # "pad" or "truncate"
    frames_in: int
    frames_out: int  # as traced
    padded_frames: int
    dropped_frames: int
    duration_s: float
    llm_dim: int
    ms_per_encoder_frame: float
    ms_per_token: float
    summary: str


def projector_stack_mode(projector: nn.Module) -> str:
    if isinstance(projector, AudioProjector):
        return "pad"
    if isinstance(projector, MLPAudioProjector):
        return "truncate"
    raise ValueError(f"unknown projector type {type(projector).__name__}")


def model_stacking(model, result) -> ModelStacking:
    """Padding or truncation, and by how many frames, for ``result`` (a traced transcription
    by ``model``). The traced frame count is checked against the stacking function."""
    if result.trace is None:
        raise ValueError("model_stacking needs a traced result (transcribe with trace=True)")
    projector = model.projector
    k, mode = projector.k, projector_stack_mode(projector)
    frames_in = result.trace.stage("encoder output").shape[1]
    frames_out = result.trace.stage("stacked").shape[1]
    llm_dim = result.trace.stage(projector.stages[-1]).shape[-1]
    row = rate_row(frames_in, result.duration_s, llm_dim, k, mode)
    if row.frames_out != frames_out:
        raise RuntimeError(f"the trace shows {frames_out} stacked frames, the stacking function {row.frames_out}")
    if mode == "pad":
        what = (f"zero-padded with {row.padded_frames} frame(s) to {frames_in + row.padded_frames}"
                if row.padded_frames else "a multiple of k: no padding")
    else:
        what = (f"{row.dropped_frames} trailing frame(s) dropped"
                if row.dropped_frames else "a multiple of k: nothing dropped")
    summary = (f"{type(projector).__name__} (k={k}, {mode}): {frames_in} encoder frames, {what}, "
               f"→ {frames_out} LLM audio tokens of {row.ms_per_token:.1f} ms each")
    return ModelStacking(
        projector=type(projector).__name__,
        k=k,
        mode=mode,
        frames_in=frames_in,
        frames_out=frames_out,
        padded_frames=row.padded_frames,
        dropped_frames=row.dropped_frames,
        duration_s=result.duration_s,
        llm_dim=llm_dim,
        ms_per_encoder_frame=1000.0 * result.duration_s / frames_in,
        ms_per_token=row.ms_per_token,
        summary=summary,
    )


# ----- 2. Activation functions ----------------------------------------------------------------

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "ReLU": F.relu,
    "GELU": F.gelu,  # exact (erf) form, as the projectors use
    "SiLU/Swish": F.silu,
    "Tanh": torch.tanh,
}
# GLU family: out = act(gate) · up, with the gate activation named here.
GLU_VARIANTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "GLU": torch.sigmoid,
    "ReGLU": F.relu,
    "GeGLU": F.gelu,
    "SwiGLU": F.silu,
}
ACTIVATION_NOTES = {
    "sparsity": "fraction of outputs exactly 0.0",
    "std": "population standard deviation (ddof 0)",
    "range": "max − min of the outputs",
    "random normal": "N(0, σ²) data of the gate pre-activations' shape, σ = their std; seeded",
    "grad (plain)": "mean |f'(x)| over the inputs, by autograd (backward of f(x).sum(); f acts elementwise)",
    "grad (GLU)": (
        "mean |∂L/∂x| over the projector's pre-norm input x, by autograd, where "
        "L = Σ R ⊙ act(gate_proj(x)) ⊙ up_proj(x) and R is a fixed standard-normal tensor (seeded, the same "
        "for every variant) standing in for the gradient from the next layer; a plain out.sum() would let "
        "the up projection's signs cancel"
    ),
}


@dataclass
class GateInput:
    """The projector's gate/up inputs for one clip, from one encoder + projector pass."""

    prenorm: torch.Tensor  # [1, T/k, k·D_enc]: the RMSNorm output, input of gate_proj and up_proj
    gate: torch.Tensor  # gate_proj(prenorm): the gate pre-activations
    up: torch.Tensor  # up_proj(prenorm)
    encoder_frames: int
    duration_s: float


def gate_input(model, samples) -> GateInput:
    """Run ``model``'s encoder and SwiGLU projector once on ``samples`` (16 kHz mono samples, a
    file path or a ``(samples, rate)`` pair) and keep the gate/up inputs and outputs."""
    projector = model.projector
    if not hasattr(projector, "gate_proj"):
        raise ValueError(f"the activation study needs a SwiGLU projector; this model has {type(projector).__name__}")
    if isinstance(samples, np.ndarray):
        samples = load_audio((samples, SAMPLE_RATE), max_seconds=model.max_seconds)
    else:
        samples = load_audio(samples, max_seconds=model.max_seconds)
    kept: dict[str, torch.Tensor] = {}

    def keep(name: str, tensor: torch.Tensor) -> None:
        if name in ("pre-norm", "gate", "up"):
            kept[name] = tensor.detach()

    # no_grad, not inference_mode: the tensors feed autograd in the gradient-flow study.
    with torch.no_grad():
        frames = model.encoder.encode(model.encoder.features(samples), samples.size)
        projector(frames, record=keep)
    return GateInput(kept["pre-norm"], kept["gate"], kept["up"], frames.shape[1], samples.size / SAMPLE_RATE)


@dataclass
class ActivationRow:
    name: str  # "ReLU", … or "GLU", "ReGLU", "GeGLU", "SwiGLU"
    data: str  # "clip", "random normal" or "clip (GLU)"
    shape: tuple[int, ...]
    sparsity: float
    range: float
    mean: float
    std: float
    min: float
    max: float
    grad_mean_abs: float  # see ACTIVATION_NOTES
    histogram: Histogram  # over the row's own [min, max]


def _row(name: str, data: str, out: torch.Tensor, grad_mean_abs: float, bins: int) -> ActivationRow:
    stats = summarize_tensor(name, out, bins)
    return ActivationRow(
        name=name,
        data=data,
        shape=stats.shape,
        sparsity=stats.zero_fraction,
        range=stats.max - stats.min,
        mean=stats.mean,
        std=stats.std,
        min=stats.min,
        max=stats.max,
        grad_mean_abs=grad_mean_abs,
        histogram=stats.histogram,
    )


def _normal(shape, seed: int, std: float = 1.0, device=None) -> torch.Tensor:
    # Drawn on the CPU so the numbers do not depend on the device.
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(tuple(shape), generator=generator) * std).to(device)


def activation_study(gate_preactivations: torch.Tensor, bins: int = 100, seed: int = 0) -> list[ActivationRow]:
    """ReLU, GELU, SiLU and Tanh on the real gate pre-activations, then on random normal data of
    the same shape and std: output statistics, histogram and mean |f'(x)|."""
    x = gate_preactivations.detach().float()
    noise = _normal(x.shape, seed, float(x.std(correction=0)), x.device)
    rows = []
    for data, source in (("clip", x), ("random normal", noise)):
        for name, act in ACTIVATIONS.items():
            # Outside any caller's inference mode, so autograd can record.
            with torch.inference_mode(False), torch.enable_grad():
                leaf = source.clone().requires_grad_(True)
                out = act(leaf)
                out.sum().backward()
            rows.append(_row(name, data, out.detach(), float(leaf.grad.abs().mean()), bins))
    return rows


def glu_study(
    projector: nn.Module,
    prenorm: torch.Tensor,
    bins: int = 100,
    seed: int = 0,
    direction: Optional[torch.Tensor] = None,
) -> list[ActivationRow]:
    """GLU, ReGLU, GeGLU and SwiGLU built from ``projector``'s own gate_proj/up_proj weights, on
    its real pre-norm input: output statistics and gradient flow back to that input.

    ``direction`` (shape of the gate) is R in ACTIVATION_NOTES["grad (GLU)"]; by default a seeded
    standard-normal tensor."""
    x0 = prenorm.detach().float()
    w_gate = projector.gate_proj.weight.detach().float().to(x0.device)
    w_up = projector.up_proj.weight.detach().float().to(x0.device)
    out_shape = (*x0.shape[:-1], w_gate.shape[0])
    if direction is None:
        direction = _normal(out_shape, seed)
    direction = direction.detach().float().to(x0.device)
    rows = []
    for name, act in GLU_VARIANTS.items():
        with torch.inference_mode(False), torch.enable_grad():
            x = x0.clone().requires_grad_(True)
            out = act(F.linear(x, w_gate)) * F.linear(x, w_up)
            (out * direction).sum().backward()
        rows.append(_row(name, "clip (GLU)", out.detach(), float(x.grad.abs().mean()), bins))
    return rows


@dataclass
class ActivationReport:
    model_name: str
    projector_trained: bool  # False: random projector weights, so its gate is random too
    encoder_frames: int
    duration_s: float
    gate_shape: tuple[int, ...]
    gate_mean: float
    gate_std: float
    plain: list[ActivationRow]  # 4 activations on the clip, then the same 4 on random normal data
    glu: list[ActivationRow]  # GLU, ReGLU, GeGLU, SwiGLU on the clip
    notes: dict[str, str] = field(default_factory=lambda: dict(ACTIVATION_NOTES))


def study_activations(model, samples, bins: int = 100, seed: int = 0) -> ActivationReport:
    """Experiment 2 for one clip: ``gate_input``, then ``activation_study`` and ``glu_study``."""
    inputs = gate_input(model, samples)
    gate = inputs.gate.float()
    return ActivationReport(
        model_name=model.name,
        projector_trained=model.projector_trained,
        encoder_frames=inputs.encoder_frames,
        duration_s=inputs.duration_s,
        gate_shape=tuple(gate.shape),
        gate_mean=float(gate.mean()),
        gate_std=float(gate.std(correction=0)),
        plain=activation_study(inputs.gate, bins, seed),
        glu=glu_study(model.projector, inputs.prenorm, bins, seed),
    )


# ----- 3. Projector configurations ------------------------------------------------------------


@dataclass(frozen=True)
class ProjectorConfig:
    name: str
    encoder_dim: int
    k: int
    hidden_dim: int
    llm_dim: int


@dataclass(frozen=True)
class CourseRow:
    """Exercise 3's expected output, as printed in the course."""

    params: int
    frames: int
    ms_per_frame: float
    compression: float


COURSE_CONFIGS: tuple[tuple[ProjectorConfig, CourseRow], ...] = (
    (ProjectorConfig("Actual (Tiny Audio)", 1280, 5, 8192, 2048), CourseRow(121_643_264, 30, 100.0, 5.0)),
    (ProjectorConfig("Smaller Projector", 1280, 5, 4096, 2048), CourseRow(60_829_696, 30, 100.0, 5.0)),
    (ProjectorConfig("More Downsampling", 1280, 8, 8192, 2048), CourseRow(121_651_456, 18, 166.7, 8.3)),
    (ProjectorConfig("Less Downsampling", 1280, 2, 8192, 2048), CourseRow(121_634_880, 75, 40.0, 2.0)),
)


@dataclass
class ConfigRow:
    name: str
    encoder_dim: int
    k: int
    hidden_dim: int
    llm_dim: int
    params: int  # counted from the module built on the meta device
    breakdown: dict[str, int]  # parameters per tensor
    frames_in: int
    frames_out: int  # from the padded stacking function
    ms_per_frame: float
    compression: float
    course: Optional[CourseRow] = None  # the course's printed row, for its four configurations
    course_params_right: Optional[bool] = None


def projector_parameters(encoder_dim: int, k: int, hidden_dim: int, llm_dim: int) -> dict[str, int]:
    """Parameters per tensor of the SwiGLU projector, from an instance on the meta device (no
    memory allocated, so a 10-billion-parameter configuration costs nothing)."""
    with torch.device("meta"):
        module = AudioProjector(encoder_dim, llm_dim, k=k, hidden_dim=hidden_dim)
    return {name: p.numel() for name, p in module.named_parameters()}


def waveform_encoder_frames(duration_s: float) -> int:
    """Frames a wav2vec2/HuBERT encoder (the course's) gives for ``duration_s`` of 16 kHz audio:
    its convolutional front end's arithmetic, kernels and strides read from HubertConfig."""
    from transformers import HubertConfig

    config = HubertConfig()
    length = round(duration_s * SAMPLE_RATE)
    for kernel, stride in zip(config.conv_kernel, config.conv_stride):
        length = max((length - kernel) // stride + 1, 0)
    return length


def _as_config(item, index: int) -> ProjectorConfig:
    if isinstance(item, ProjectorConfig):
        return item
    if isinstance(item, dict):
        values = dict(item)
        values.setdefault("name", f"Custom {index}")
        config = ProjectorConfig(**values)
    else:
        encoder_dim, k, hidden_dim, llm_dim = item
        config = ProjectorConfig(f"Custom {index}", encoder_dim, k, hidden_dim, llm_dim)
    sizes = (config.encoder_dim, config.k, config.hidden_dim, config.llm_dim)
    if not all(isinstance(v, int) and v >= 1 for v in sizes):
        raise ValueError(f"{config.name}: encoder dim, k, hidden and LLM dim must be positive integers, got {sizes}")
    return config


def projector_configs(
    extra: Optional[Iterable] = None,
    duration_s: float = 3.0,
    encoder_frames: Optional[int] = None,
) -> list[ConfigRow]:
    """Exercise 3's four configurations, then ``extra`` ones (``ProjectorConfig``, dicts with its
    fields, or (encoder_dim, k, hidden_dim, llm_dim) tuples), for a clip of ``duration_s`` seconds
    (``encoder_frames`` by default from the HuBERT front end: 149 for 3.0 s, as in the course)."""
    frames_in = waveform_encoder_frames(duration_s) if encoder_frames is None else int(encoder_frames)
    if frames_in < 1 or duration_s <= 0:
        raise ValueError(f"need a clip with at least one encoder frame, got {frames_in} frames in {duration_s} s")
    entries = [(config, course) for config, course in COURSE_CONFIGS]
    entries += [(_as_config(item, i), None) for i, item in enumerate(extra or [], start=1)]
    rows = []
    for config, course in entries:
        breakdown = projector_parameters(config.encoder_dim, config.k, config.hidden_dim, config.llm_dim)
        params = sum(breakdown.values())
        frames_out = stacked_frames(frames_in, config.k, "pad")
        rows.append(ConfigRow(
            name=config.name,
            encoder_dim=config.encoder_dim,
            k=config.k,
            hidden_dim=config.hidden_dim,
            llm_dim=config.llm_dim,
            params=params,
            breakdown=breakdown,
            frames_in=frames_in,
            frames_out=frames_out,
            ms_per_frame=1000.0 * duration_s / frames_out,  # padding: at least one frame out
            compression=frames_in / frames_out,
            course=course,
            course_params_right=None if course is None else course.params == params,
        ))
    return rows


# ----- 4. Decoders and LoRA memory ------------------------------------------------------------

# transformers classes per model_type in data/decoders.json.
DECODER_CLASSES = {
    "llama": ("LlamaConfig", "LlamaForCausalLM"),
    "mistral": ("MistralConfig", "MistralForCausalLM"),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM"),
    "smollm3": ("SmolLM3Config", "SmolLM3ForCausalLM"),
}
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
FROZEN_BYTES = 2  # bf16 weights
TRAINABLE_BYTES = 16  # fp32 weight + gradient + AdamW's two moments
COURSE_PROJECTOR = {"encoder_dim": 1280, "k": 5, "hidden_dim": 8192}


def decoder_specs() -> list[dict]:
    """The published decoder configs checked into ``data/decoders.json``."""
    return json.loads((DATA_DIR / "decoders.json").read_text())["decoders"]


def decoder_config(spec: dict):
    import transformers

    config_class, _ = DECODER_CLASSES[spec["model_type"]]
    return getattr(transformers, config_class)(**spec["config"])


def decoder_on_meta(spec: dict) -> nn.Module:
    """The decoder a spec describes, built on the meta device: real modules, no memory."""
    import transformers

    _, model_class = DECODER_CLASSES[spec["model_type"]]
    config = decoder_config(spec)
    with torch.device("meta"):
        return getattr(transformers, model_class)(config)


def count_parameters(module: nn.Module) -> int:
    # parameters() yields a tied embedding / output head once.
    return sum(p.numel() for p in module.parameters())


def lora_parameters(
    model: nn.Module, rank: int, targets: Iterable[str] = LORA_TARGETS
) -> tuple[int, dict[str, list[int]]]:
    """Parameters of rank-``rank`` LoRA adapters on every Linear named in ``targets``: r·(in + out)
    each, with in/out read from the module. Returns the total and each target's [in, out]."""
    targets = tuple(targets)
    total, shapes = 0, {}
    for name, module in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in targets and isinstance(module, nn.Linear):
            total += rank * (module.in_features + module.out_features)
            shapes.setdefault(leaf, [module.in_features, module.out_features])
    return total, shapes


def course_lora_estimate(hidden: int, rank: int = 64) -> dict[str, float]:
    """The course's LoRA estimate, reproduced to set beside ours: 4·2·hidden·rank·32 adapter
    parameters for any model, plus a fixed 122M projector and 2M encoder LoRA, × 4 bytes × 3."""
    lora = 4 * 2 * hidden * rank * 32
    trainable = 122e6 + 2e6 + lora
    return {"lora_params": lora, "trainable_params": trainable, "memory_gb": trainable * 4 * 3 / 1e9}


@dataclass
class DecoderRow:
    name: str
    model_id: str
    source: str  # the published config.json the numbers come from
    model_type: str
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    params: int  # counted on the meta device
    embedding_params: int  # the input-embedding matrix
    verified: dict  # which fields were checked offline, against what
    projector_params: int  # the course's SwiGLU projector with this decoder's hidden size
    lora_rank: int
    lora_params: int
    lora_shapes: dict[str, list[int]]  # per target: [in, out] of one layer's Linear
    trainable_params: int  # projector + LoRA
    frozen_weights_gb: float  # decoder in bf16
    trainable_state_gb: float  # trainable params × 16 bytes
    training_gb: float  # the two above; activations excluded
    course: Optional[dict] = None  # what the course says about this model, and its estimate


@dataclass
class DecoderReport:
    rows: list[DecoderRow]
    assumptions: list[str]
    course_errors: list[str]


def decoder_table(rank: int = 64) -> DecoderReport:
    """Every decoder in ``data/decoders.json``: size counted on meta, the projector it needs and a
    LoRA training-memory estimate, beside what the course's comparison says."""
    rows = []
    for spec in decoder_specs():
        model = decoder_on_meta(spec)
        config = model.config
        params = count_parameters(model)
        lora, shapes = lora_parameters(model, rank)
        projector = sum(projector_parameters(llm_dim=config.hidden_size, **COURSE_PROJECTOR).values())
        trainable = projector + lora
        frozen_gb = params * FROZEN_BYTES / 1e9
        state_gb = trainable * TRAINABLE_BYTES / 1e9
        course = None
        if spec.get("course"):
            course = dict(spec["course"])
            course["projector_params"] = sum(
                projector_parameters(llm_dim=course["hidden_dim"], **COURSE_PROJECTOR).values()
            )
            # The course prints its memory estimate only for its first three decoders.
            if course.pop("memory_listed", True):
                course.update(course_lora_estimate(course["hidden_dim"]))  # the course's rank 64
        rows.append(DecoderRow(
            name=spec["name"],
            model_id=spec["model_id"],
            source=spec["source"],
            model_type=spec["model_type"],
            hidden_size=config.hidden_size,
            num_hidden_layers=config.num_hidden_layers,
            num_attention_heads=config.num_attention_heads,
            num_key_value_heads=config.num_key_value_heads,
            head_dim=model.model.layers[0].self_attn.head_dim,
            intermediate_size=config.intermediate_size,
            vocab_size=config.vocab_size,
            tie_word_embeddings=bool(config.tie_word_embeddings),
            params=params,
            embedding_params=model.get_input_embeddings().weight.numel(),
            verified=spec["verified"],
            projector_params=projector,
            lora_rank=rank,
            lora_params=lora,
            lora_shapes=shapes,
            trainable_params=trainable,
            frozen_weights_gb=frozen_gb,
            trainable_state_gb=state_gb,
            training_gb=frozen_gb + state_gb,
            course=course,
        ))
    return DecoderReport(rows, lora_assumptions(rank), COURSE_DECODER_ERRORS)


def lora_assumptions(rank: int) -> list[str]:
    return [
        (
            f"LoRA rank {rank} on q_proj, k_proj, v_proj and o_proj of every decoder layer; an adapter on a "
            "Linear(in, out) adds rank·(in + out) parameters, in/out read from the decoder built on the meta "
            "device (with grouped-query attention, k_proj and v_proj map hidden → kv_heads·head_dim)."
        ),
        (
            "Projector: the course's SwiGLU (encoder 1280-d, k 5, hidden 8192), output = the decoder's hidden "
            "size, counted on the meta device. No encoder LoRA (the course adds a fixed 2M)."
        ),
        f"Frozen decoder weights in bf16: {FROZEN_BYTES} bytes per parameter.",
        (
            "Trainable parameters (projector + LoRA) in fp32 with AdamW: weight + gradient + two moments = "
            f"{TRAINABLE_BYTES} bytes per parameter."
        ),
        (
            "Excluded: the speech encoder's weights, activations (they grow with batch × sequence length × "
            "layers and shrink with gradient checkpointing), and framework overhead (CUDA context, allocator)."
        ),
        "GB = 10^9 bytes.",
    ]


COURSE_DECODER_ERRORS = [
    "Multiplies 4·2·hidden·rank by 32 layers for every model: Qwen3-8B has 36, Qwen3-1.7B 28, SmolLM3-3B 36.",
    (
        "Counts k_proj and v_proj adapters as hidden→hidden; with grouped-query attention they are "
        "hidden → kv_heads·head_dim (4096 → 1024 for the 8B models), so their adapters are smaller."
    ),
    (
        "Gives Qwen3-8B a 2048-d hidden state (it is 4096-d, 36 layers, 32 heads / 8 KV) and lists a "
        "'Qwen3-1.5B' with 1536 (no such model; Qwen3-1.7B is 2048-d, 28 layers)."
    ),
    (
        "Fixes the projector at 122M for every decoder, but its output layer follows the decoder's hidden "
        "size (138.4M for a 4096-d decoder)."
    ),
    (
        "Counts 4 bytes × 3 per trainable parameter (weight, gradient, one optimizer state); AdamW keeps two "
        "moments: 16 bytes."
    ),
    "Leaves out the frozen decoder itself, by far the largest term: ~16 GB for an 8B model in bf16.",
]


# ----- 5. Exercise 2's stage-by-stage grid -----------------------------------------------------

# (stage name in the trace, the course's panel label)
SWIGLU_GRID = (
    ("stacked", "Stacked"), ("pre-norm", "Prenorm"), ("swiglu", "Swiglu"), ("down", "Down"), ("post-norm", "Final"),
)
MLP_GRID = (
    ("stacked", "Stacked"), ("linear_1", "Linear 1"), ("gelu", "GELU"), ("linear_2", "Linear 2"), ("norm_2", "Final"),
)


@dataclass
class GridPanel:
    row: int  # 0..1
    col: int  # 0..2
    stage: str
    title: str  # "<label> (μ=…, σ=…)", as the course titles its panels
    mean: float
    std: float
    shape: tuple[int, ...]
    histogram: Histogram


def stage_grid(result) -> list[GridPanel]:
    """The six panels of the course's 2×3 grid: five projector stages, then the target LLM's
    token embeddings (the whole embedding matrix, not two sampled tokens)."""
    if result.trace is None or result.native is None:
        raise ValueError("stage_grid needs a traced result (transcribe with trace=True)")
    names = {s.name for s in result.trace.stages}
    layout = SWIGLU_GRID if "swiglu" in names else MLP_GRID
    panels = [(result.trace.stage(stage), stage, label) for stage, label in layout]
    panels.append((result.native.stats, "LLM token embeddings", "Target LLM"))
    return [
        GridPanel(
            row=i // 3,
            col=i % 3,
            stage=stage,
            title=f"{label} (μ={stats.mean:.3f}, σ={stats.std:.3f})",
            mean=stats.mean,
            std=stats.std,
            shape=stats.shape,
            histogram=stats.histogram,
        )
        for i, (stats, stage, label) in enumerate(panels)
    ]
