"""The explore experiments' tables, built once: ``python -m tiny_audio explore`` prints them and the
app's Explore tab shows them.

One builder per experiment turns its results (``tiny_audio.explore``) into a ``Table`` of formatted
cells; its notes carry what the cells cannot: the course's wrong rows, markers, assumptions, sources.
Notes are plain lines that also read as Markdown ("- " items, blank lines between sections).
"""

from __future__ import annotations

from typing import Optional

from tiny_audio.report.table import Table

RATE_HEADERS = ["k", "encoder frames", "LLM audio tokens", "ms of audio per token", "frames padded",
                "frames dropped", "embeddings KiB (fp32)", "KiB (bf16)"]
ACTIVATION_HEADERS = ["activation", "input", "zeros", "range", "mean", "std", "gradient flow mean |∂|"]
CONFIG_HEADERS = ["configuration", "encoder dim", "k", "hidden", "LLM dim", "parameters (counted)",
                  "course says", "frames", "ms/frame", "compression"]
DECODER_HEADERS = ["decoder", "hidden", "layers", "heads/KV", "intermediate", "vocabulary", "tied", "parameters",
                   "projector needed", "LoRA params", "frozen GB", "trainable GB", "training GB"]
MODEL_RATE_NOTE = "* the loaded model's rate"
DECODER_VALUES = "tiny_audio/explore/data/decoders.json"


def _number(value: Optional[float], digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def rates_table(rows, model_k: Optional[int] = None) -> Table:
    """Experiment 1's rates (``explore.rates.downsampling_table``); ``model_k``, the loaded model's
    own rate, is marked with a *, the user's own rates with "(custom)"."""
    cells = []
    for r in rows:
        mark = " *" if r.rate == model_k else (" (custom)" if r.custom else "")
        cells.append([
            f"{r.rate}{mark}", str(r.frames_in), str(r.frames_out), _number(r.ms_per_token),
            str(r.padded_frames), str(r.dropped_frames),
            _number(r.embed_bytes_fp32 / 1024), _number(r.embed_bytes_bf16 / 1024),
        ])
    return Table(RATE_HEADERS, cells, [MODEL_RATE_NOTE] if model_k is not None else [])


def activations_table(report) -> Table:
    """Experiment 2 (``explore.activations.study_activations``): the plain activations on the clip
    and on random normal data, then the GLU family; the notes say what each number means."""
    cells = [
        [r.name, r.data, f"{r.sparsity:.2%}", f"{r.range:.4g}", f"{r.mean:.4g}", f"{r.std:.4g}",
         f"{r.grad_mean_abs:.4g}"]
        for r in report.plain + report.glu
    ]
    return Table(ACTIVATION_HEADERS, cells, [f"- {key}: {value}" for key, value in report.notes.items()])


def configs_table(rows, course_clip: bool = True) -> Table:
    """Exercise 3 (``explore.configs.projector_configs``) with the course's printed parameter counts,
    marked ✓ or ✗. ``course_clip``: the rows are for the course's own clip (3 s, 149 frames), so its
    frame counts can be compared too."""
    cells = []
    for r in rows:
        course = "" if r.course is None else f"{r.course.params:,}" + (" ✓" if r.course_params_right else " ✗ wrong")
        cells.append([r.name, str(r.encoder_dim), str(r.k), str(r.hidden_dim), str(r.llm_dim), f"{r.params:,}",
                      course, str(r.frames_out), f"{r.ms_per_frame:.1f}", f"{r.compression:.2f}×"])
    notes = []
    wrong = [r for r in rows if r.course_params_right is False]
    if wrong:
        notes.append("✗ the course's expected table is wrong here: " + "; ".join(
            f"{r.name} has {r.params:,}, not {r.course.params:,}" for r in wrong))
    off = [r for r in rows if course_clip and r.course and r.course.frames != r.frames_out]
    if off:
        # The course assumes 3 s × 50 = 150 frames and floors; the projector pads the real 149.
        notes.append("the course's frame counts assume 150 frames, floored: " + "; ".join(
            f"{r.name} {r.course.frames} frames at {r.course.ms_per_frame} ms, the projector gives "
            f"{r.frames_out} at {r.ms_per_frame:.1f} ms" for r in off))
    return Table(CONFIG_HEADERS, cells, notes)


def decoders_table(report) -> Table:
    """The decoder comparison (``explore.decoders.decoder_table``): sizes, the projector each needs
    and the LoRA training memory; the notes hold the adapters' shapes, the course's own numbers,
    the assumptions, what the course gets wrong and where the configs come from."""
    cells = [
        [r.name, str(r.hidden_size), str(r.num_hidden_layers), f"{r.num_attention_heads}/{r.num_key_value_heads}",
         str(r.intermediate_size), f"{r.vocab_size:,}", "yes" if r.tie_word_embeddings else "no", f"{r.params:,}",
         f"{r.projector_params:,}", f"{r.lora_params:,}", f"{r.frozen_weights_gb:.1f}", f"{r.trainable_state_gb:.2f}",
         f"{r.training_gb:.1f}"]
        for r in report.rows
    ]
    notes = ["training GB = frozen decoder (bf16) + trainable state (fp32 + AdamW); LoRA adapters per layer:"]
    for r in report.rows:
        shapes = ", ".join(f"{name} {i}→{o}" for name, (i, o) in r.lora_shapes.items())
        notes.append(f"- {r.name}: rank {r.lora_rank} on {shapes}")
    course_rows = [r for r in report.rows if r.course]
    if course_rows:
        notes += ["", "the course's version:"]
        for r in course_rows:
            c = r.course
            parts = [
                f"hidden {c['hidden_dim']} (true {r.hidden_size})",
                f"projector {c['projector_params']:,} (true {r.projector_params:,})",
            ]
            if "memory_gb" in c:  # the course estimates memory for its first three decoders only
                parts.append(f"LoRA {c['lora_params']:,} (ours at rank {r.lora_rank}: {r.lora_params:,})")
                parts.append(f"memory {c['memory_gb']:.1f} GB (ours {r.training_gb:.1f})")
            notes.append(f"- {c['name']}: " + ", ".join(parts))
    notes += ["", "assumptions:"] + [f"- {a}" for a in report.assumptions]
    notes += ["", "what the course's estimate gets wrong:"] + [f"- {e}" for e in report.course_errors]
    notes += ["", f"sources: each model's config.json on the Hugging Face Hub (values: {DECODER_VALUES}):"]
    notes += [f"- {r.name}: {r.source}" for r in report.rows]
    return Table(DECODER_HEADERS, cells, notes)
