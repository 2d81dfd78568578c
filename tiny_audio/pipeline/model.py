"""The audio LLM: speech encoder → projector → decoder LLM, traced in one forward pass.

``AudioLLM.transcribe`` runs features → encoder → projector → prompt splice → decoding (greedy,
or beam search), and, when tracing, summarises every stage from the tensors that same pass computed.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np
import torch
from torch import nn

from tiny_audio.pipeline.audio import SAMPLE_RATE, AudioError, AudioInput, load_audio
from tiny_audio.pipeline.encoders import SpeechEncoder
from tiny_audio.pipeline.text import clean_transcript
from tiny_audio.pipeline.trace import DEFAULT_BINS, NativeEmbeddings, Trace, Tracer, summarize_embeddings

AUDIO_MARKER = "<audio>"
UNTRAINED_NOTICE = (
    "Untrained projector: its weights are random, so the transcript is the LLM reacting to noise, "
    "not a reading of your audio. The stage statistics are real."
)

# The two prompt styles (DESIGN.md): the course's single <audio> slot, and current Tiny Audio's
# audio-first user turn. Both are rendered with the tokenizer's chat template; the projected
# frames replace the marker.
PROMPTS = {
    "course": [
        {"role": "system", "content": "/no_think /system_override"},
        {"role": "user", "content": f"Transcribe: {AUDIO_MARKER}"},
    ],
    "current": [
        {"role": "user", "content": f"{AUDIO_MARKER} Transcribe the speech to text"},
    ],
}


def pick_device(device: Optional[str] = None, dtype: Optional[torch.dtype] = None) -> tuple[torch.device, torch.dtype]:
    """CUDA in bfloat16, else Apple's MPS, else the CPU in float32 — unless told otherwise."""
    if device is None:
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    device = torch.device(device)
    if dtype is None:
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    return device, dtype


@dataclass
class TranscriptionResult:
    text: str  # cleaned transcript
    raw_text: str  # what the decoder generated, before clean-up
    token_ids: list[int]
    trace: Optional[Trace]
    timings: dict[str, float]  # seconds per step
    duration_s: float  # length of the audio
    model_name: str
    device: str
    dtype: str
    projector_trained: bool
    notice: Optional[str] = None  # shown beside the transcript (e.g. untrained projector)
    beams: int = 1  # 1: greedy decoding; more: beam search with that many beams
    native: Optional[NativeEmbeddings] = field(default=None, repr=False)

    @property
    def stages(self):
        return self.trace.stages if self.trace else []

    def to_dict(self) -> dict:
        """Everything but tensors, ready for JSON."""
        data = {key: getattr(self, key) for key in (
            "text", "raw_text", "token_ids", "timings", "duration_s", "model_name", "device", "dtype",
            "projector_trained", "notice", "beams",
        )}
        data["trace"] = asdict(self.trace) if self.trace else None
        if self.native is not None:
            data["llm_embeddings"] = {
                "stats": self.native.stats.to_dict(),
                "typical_row_norm": self.native.typical_row_norm,
            }
        return data


def decoding_text(beams: int) -> str:
    return "greedy" if beams == 1 else f"beam search, {beams} beams"


class AudioLLM:
    """A loaded pipeline. Build one with ``tiny_audio.load_model``."""

    def __init__(
        self,
        encoder: SpeechEncoder,
        projector: nn.Module,
        decoder: nn.Module,
        tokenizer,
        *,
        name: str,
        prompt_style: str = "course",
        projector_trained: bool = True,
        notice: Optional[str] = None,
        device: Optional[str] = None,
        dtype: Optional[torch.dtype] = None,
        bins: int = DEFAULT_BINS,
        fast_decode: Optional[bool] = None,
        compile: bool = False,
        beams: int = 1,
    ):
        if prompt_style not in PROMPTS:
            raise ValueError(f"prompt_style must be one of {sorted(PROMPTS)}, got {prompt_style!r}")
        self.device, self.dtype = pick_device(device, dtype)
        encoder.model.to(device=self.device, dtype=self.dtype)
        self.encoder = encoder
        self.projector = projector.to(device=self.device, dtype=self.dtype).eval()
        self.decoder = decoder.to(device=self.device, dtype=self.dtype).eval()
        self.tokenizer = tokenizer
        self.name = name
        self.prompt_style = prompt_style
        self.projector_trained = projector_trained
        # What every result says beside its transcript: the untrained warning, or what a trained
        # model is known (measured) to be good and bad at.
        self.notice = notice if projector_trained else UNTRAINED_NOTICE
        self.bins = bins
        if beams < 1:
            raise ValueError(f"beams must be at least 1, got {beams}")
        self.beams = beams  # what transcribe uses unless told otherwise
        self._check_dimensions()
        self._prefix_ids, self._suffix_ids = self._prompt_ids()
        self.stop_ids = self._stop_ids()
        # transformers renamed ``past_key_values`` to ``cache``; accept either release.
        self._cache_arg = "cache" if "cache" in inspect.signature(self.decoder.forward).parameters else "past_key_values"
        # Summarised at load time so that no request pays for the whole embedding table.
        self.native: NativeEmbeddings = summarize_embeddings(self.decoder.get_input_embeddings().weight, bins)
        # On a GPU, decoding replays a captured CUDA graph over a static KV cache (fast_decode.py);
        # elsewhere the plain loop below is as fast and simpler.
        self._lock = threading.Lock()
        self.fast_decode = self.device.type == "cuda" if fast_decode is None else fast_decode
        self._static_decoder = None
        # torch.compile of the encoder, the prefill and the decode step: fewer, fused kernels on a
        # GPU, at the price of compilations on first use (and for new shape families).
        self.compile = compile
        if compile:
            self.encoder.compile()
        self._copies: dict[torch.dtype, AudioLLM] = {}
        self._copies_lock = threading.Lock()  # not the run lock: making a copy must not wait for a run

    def in_dtype(self, dtype: torch.dtype) -> "AudioLLM":
        """This pipeline with its weights in ``dtype``: itself when it already is, otherwise a
        copy made once and kept (this one is left as it is)."""
        if dtype == self.dtype:
            return self
        with self._copies_lock:
            if dtype not in self._copies:
                self._copies[dtype] = AudioLLM(
                    copy.deepcopy(self.encoder), copy.deepcopy(self.projector), copy.deepcopy(self.decoder),
                    self.tokenizer, name=self.name, prompt_style=self.prompt_style,
                    projector_trained=self.projector_trained, notice=self.notice, device=str(self.device),
                    dtype=dtype, bins=self.bins, fast_decode=self.fast_decode, compile=self.compile,
                    beams=self.beams)
            return self._copies[dtype]

    # ----- set-up -------------------------------------------------------------------------

    def _check_dimensions(self) -> None:
        k = self.projector.k
        stacked_in = self.projector.state_dict()[_input_weight_key(self.projector)].shape[1]
        if stacked_in != k * self.encoder.dim:
            raise ValueError(
                f"projector expects {stacked_in // k}-d encoder frames (k={k}), "
                f"but the encoder '{self.encoder.name}' gives {self.encoder.dim}-d frames"
            )
        llm_dim = self.decoder.get_input_embeddings().weight.shape[1]
        out_dim = self.projector.state_dict()[_output_weight_key(self.projector)].shape[0]
        if out_dim != llm_dim:
            raise ValueError(f"projector outputs {out_dim}-d vectors but the decoder's embeddings are {llm_dim}-d")

    def _prompt_ids(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids before and after the audio slot, rendered once per model."""
        messages = PROMPTS[self.prompt_style]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        if text.count(AUDIO_MARKER) != 1:
            raise ValueError(f"the chat template must keep exactly one {AUDIO_MARKER} marker; got: {text!r}")
        before, after = text.split(AUDIO_MARKER)

        def ids(part: str) -> torch.Tensor:
            encoded = self.tokenizer(part, add_special_tokens=False, return_tensors="pt")
            return encoded["input_ids"].to(self.device)

        return ids(before), ids(after)

    def _stop_ids(self) -> set[int]:
        stops: set[int] = set()
        eos = getattr(getattr(self.decoder, "generation_config", None), "eos_token_id", None)
        for value in (eos, self.tokenizer.eos_token_id):
            if isinstance(value, int):
                stops.add(value)
            elif isinstance(value, (list, tuple)):
                stops.update(int(v) for v in value)
        for token in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>"):
            token_id = self.tokenizer.convert_tokens_to_ids(token)
            if isinstance(token_id, int) and token_id != self.tokenizer.unk_token_id and token_id >= 0:
                stops.add(token_id)
        return stops

    @property
    def max_seconds(self) -> float:
        return self.encoder.max_seconds

    # ----- the pipeline -------------------------------------------------------------------

    @torch.inference_mode()
    def transcribe(
        self,
        audio: AudioInput | np.ndarray,
        *,
        trace: bool = True,
        max_new_tokens: Optional[int] = None,
        continue_from: Optional[list[int]] = None,
        beams: Optional[int] = None,
    ) -> TranscriptionResult:
        """Transcribe a file path, a ``(samples, rate)`` pair or 16 kHz mono samples.

        ``continue_from``: token ids the answer is forced to start with (fed in the same prefill
        pass); only ``max_new_tokens`` more are generated. Live transcription uses it to extend
        the part of the transcript that has settled instead of decoding it all again.
        ``beams``: 1 for greedy decoding, more for beam search; default: the model's ``beams``.
        """
        beams = self.beams if beams is None else beams
        if beams < 1:
            raise ValueError(f"beams must be at least 1, got {beams}")
        with self._lock:  # one run at a time per model: callers may be threads (the app, live mode)
            return self._transcribe(audio, trace, max_new_tokens, list(continue_from or []), beams)

    def _transcribe(self, audio, trace: bool, max_new_tokens: Optional[int], forced: list[int],
                    beams: int) -> TranscriptionResult:
        timings: dict[str, float] = {}
        clock = _Clock(self.device, timings)
        if isinstance(audio, np.ndarray):
            samples = load_audio((audio, SAMPLE_RATE), max_seconds=self.max_seconds)
        else:
            samples = load_audio(audio, max_seconds=self.max_seconds)
        clock.lap("audio")
        duration = samples.size / SAMPLE_RATE
        tracer = Tracer(bins=self.bins) if trace else None

        features = self.encoder.features(samples)
        clock.lap("features")
        frames = self.encoder.encode(features, samples.size)
        if tracer:
            tracer.record("encoder output", frames)
        clock.lap("encoder")
        if self.projector.output_frames(frames.shape[1]) < 1:
            raise AudioError(f"the audio is too short for this model ({frames.shape[1]} encoder frames)")
        audio_embeds = self.projector(frames, record=tracer)
        clock.lap("projector")

        if max_new_tokens is None:
            max_new_tokens = default_max_new_tokens(duration)
        token_ids = forced + self.generate(self.splice(audio_embeds, forced), max_new_tokens, clock, beams)

        trace_result = None
        if tracer:
            if token_ids:
                ids = torch.tensor(token_ids, device=self.device)
                tracer.record("generated tokens", self.decoder.get_input_embeddings()(ids))
            trace_result = tracer.finalize(self.native, output_stage=self.projector.stages[-1])
            clock.lap("trace")
        timings["total"] = sum(timings.values())

        raw = self.tokenizer.decode(token_ids, skip_special_tokens=True)
        return TranscriptionResult(
            text=clean_transcript(raw),
            raw_text=raw,
            token_ids=token_ids,
            trace=trace_result,
            timings=timings,
            duration_s=duration,
            model_name=self.name,
            device=str(self.device),
            dtype=str(self.dtype).replace("torch.", ""),
            projector_trained=self.projector_trained,
            notice=self.notice,
            beams=beams,
            native=self.native if trace else None,
        )

    def splice(self, audio_embeds: torch.Tensor, answer_ids: Optional[list[int]] = None) -> torch.Tensor:
        """Prompt embeddings with the projected audio frames in the ``<audio>`` slot, followed
        by the start of the answer when one is forced."""
        embed = self.decoder.get_input_embeddings()
        parts = [embed(self._prefix_ids), audio_embeds.to(self.dtype), embed(self._suffix_ids)]
        if answer_ids:
            parts.append(embed(torch.tensor([answer_ids], device=self.device)))
        return torch.cat(parts, dim=1)

    def generate(self, inputs_embeds: torch.Tensor, max_new_tokens: int, clock: Optional["_Clock"] = None,
                 beams: int = 1) -> list[int]:
        """Greedy decoding with a KV cache (or beam search, ``beams`` > 1); stops at an
        end-of-turn token."""
        if beams > 1:
            return self._beam_search(inputs_embeds, max_new_tokens, beams, clock)
        if self.fast_decode:
            if self._static_decoder is None:
                from tiny_audio.pipeline.fast_decode import StaticGreedyDecoder

                self._static_decoder = StaticGreedyDecoder(
                    self.decoder, max_cache_len=STATIC_CACHE_LEN, compile_step=self.compile
                )
            return self._static_decoder.generate(inputs_embeds, max_new_tokens, self.stop_ids, clock)
        out = self.decoder(inputs_embeds=inputs_embeds, use_cache=True, logits_to_keep=1)
        cache = _cache_of(out)
        next_id = out.logits[:, -1].argmax(dim=-1, keepdim=True)
        if clock:
            clock.lap("prefill")
        tokens: list[int] = []
        if max_new_tokens < 1:
            return tokens
        for _ in range(max_new_tokens):
            token = int(next_id.item())
            if token in self.stop_ids:
                break
            tokens.append(token)
            if len(tokens) == max_new_tokens:
                break
            out = self.decoder(input_ids=next_id, use_cache=True, **{self._cache_arg: cache})
            cache = _cache_of(out)
            next_id = out.logits[:, -1].argmax(dim=-1, keepdim=True)
        if clock:
            clock.lap("decode")
        return tokens

    def _beam_search(self, inputs_embeds: torch.Tensor, max_new_tokens: int, beams: int,
                     clock: Optional["_Clock"]) -> list[int]:
        """transformers' beam search: the hypothesis of highest summed log-probability per
        token wins. Its prefill is not timed apart: it counts as decoding."""
        from transformers import GenerationConfig

        if max_new_tokens < 1:
            return []
        stops = sorted(self.stop_ids)
        pad = stops[0] if stops else (self.tokenizer.pad_token_id or 0)
        # The settings that shape the search, all explicit: generate fills those left unset from
        # the decoder's own generation config, and a checkpoint's sampling, repetition or
        # suppression settings must not reach beam search when greedy decoding ignores them.
        config = GenerationConfig(
            max_new_tokens=max_new_tokens, min_new_tokens=0, num_beams=beams, do_sample=False,
            eos_token_id=stops or None, pad_token_id=pad, length_penalty=1.0, early_stopping=False,
            repetition_penalty=1.0, no_repeat_ngram_size=0, suppress_tokens=[], begin_suppress_tokens=[],
        )
        mask = torch.ones(inputs_embeds.shape[:2], dtype=torch.long, device=self.device)
        # With only embeddings as the prompt, generate returns the new tokens alone.
        out = self.decoder.generate(inputs_embeds=inputs_embeds, attention_mask=mask, generation_config=config)
        tokens = list(itertools.takewhile(lambda token: token not in self.stop_ids, out[0].tolist()))
        if clock:
            clock.lap("decode")
        return tokens


def _cache_of(output):
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


# Prompt (~30) + audio tokens (≤ 300 for 30 s at k=5) + new tokens (≤ 196 for 30 s) fit easily.
STATIC_CACHE_LEN = 1024


def default_max_new_tokens(duration_s: float) -> int:
    """Room for fast speech (~4 tokens/s) plus a margin; bounds the cost of a decoder that
    never stops."""
    return int(16 + 6 * duration_s)


def _input_weight_key(projector: nn.Module) -> str:
    return "gate_proj.weight" if hasattr(projector, "gate_proj") else "linear_1.weight"


def _output_weight_key(projector: nn.Module) -> str:
    return "down_proj.weight" if hasattr(projector, "down_proj") else "linear_2.weight"


class _Clock:
    """Wall-clock laps; waits for the GPU at each lap so the time lands on the right step."""

    def __init__(self, device: torch.device, timings: dict[str, float]):
        self.device = device
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + now - self.last
        self.last = now
