"""The audio LLM: speech encoder → projector → decoder LLM, traced in one forward pass.

``AudioLLM.transcribe`` runs its public stages in order — ``encode`` (features → encoder
frames), ``project`` (the projector, traced stage by stage), ``prompt_embeddings`` (the frames in
the prompt's audio slot) and ``generate`` (greedy or beam search) — and, when tracing,
summarises every stage from the tensors that same pass computed. Training and the benchmarks
call the same stage methods, so they run exactly what inference runs.
"""

from __future__ import annotations

import copy
import threading
from typing import Callable, Optional, Union

import numpy as np
import torch
from torch import nn

from tiny_audio.pipeline import decoding
from tiny_audio.pipeline.audio import SAMPLE_RATE, AudioError, AudioInput, load_audio
from tiny_audio.pipeline.decoding import STATIC_CACHE_LEN, Clock, default_max_new_tokens
from tiny_audio.pipeline.encoders import SpeechEncoder
from tiny_audio.pipeline.prompt import Prompt, PromptSpec
from tiny_audio.pipeline.result import TranscriptionResult
from tiny_audio.pipeline.stages import ENCODER_OUTPUT, GENERATED_TOKENS
from tiny_audio.pipeline.text import clean_transcript
from tiny_audio.pipeline.tokens import token_texts
from tiny_audio.pipeline.trace import DEFAULT_BINS, NativeEmbeddings, Tracer, summarize_embeddings

__all__ = ["AudioLLM", "StepCallback", "TranscriptionResult", "UNTRAINED_NOTICE", "pick_device"]

# Told the name of each step of a run as it starts, with the encoder's frames once they exist.
StepCallback = Callable[[str, Optional[torch.Tensor]], None]

UNTRAINED_NOTICE = (
    "Untrained projector: its weights are random, so the transcript is the LLM reacting to noise, "
    "not a reading of your audio. The stage statistics are real."
)


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
        prompt_style: Union[str, PromptSpec] = "course",
        projector_trained: bool = True,
        notice: Optional[str] = None,
        device: Optional[str] = None,
        dtype: Optional[torch.dtype] = None,
        bins: int = DEFAULT_BINS,
        fast_decode: Optional[bool] = None,
        compile: bool = False,
        beams: int = 1,
        max_new_tokens: Optional[int] = None,
        min_new_tokens: int = 0,
        stop_tokens: Optional[tuple[str, ...]] = None,
        clean: Callable[[str], str] = clean_transcript,
    ):
        self.device, self.dtype = pick_device(device, dtype)
        encoder.model.to(device=self.device, dtype=self.dtype)
        self.encoder = encoder
        self.projector = projector.to(device=self.device, dtype=self.dtype).eval()
        self.decoder = decoder.to(device=self.device, dtype=self.dtype).eval()
        self.tokenizer = tokenizer
        self.name = name
        self.prompt = Prompt(tokenizer, prompt_style, self.device)
        self.projector_trained = projector_trained
        # What every result says beside its transcript: the untrained warning, or what a trained
        # model is known (measured) to be good and bad at.
        self.notice = notice if projector_trained else UNTRAINED_NOTICE
        self.bins = bins
        if beams < 1:
            raise ValueError(f"beams must be at least 1, got {beams}")
        self.beams = beams  # what transcribe uses unless told otherwise
        # A checkpoint's own generation settings: its token cap (None: one that grows with the
        # audio's length), the tokens generated before an end-of-turn token may stop it, and its
        # transcript clean-up.
        self.max_new_tokens = max_new_tokens
        self.min_new_tokens = min_new_tokens
        self.clean = clean
        self._check_dimensions()
        # A checkpoint names the end-of-turn tokens its own generation stopped at.
        self.stop_tokens = stop_tokens
        self.stop_ids = (decoding.stop_ids(self.decoder, tokenizer) if stop_tokens is None
                         else decoding.token_ids(tokenizer, stop_tokens))
        # Summarised at load time so that no request pays for the whole embedding table.
        self.native: NativeEmbeddings = summarize_embeddings(self.decoder.get_input_embeddings().weight, bins)
        # On a GPU, greedy decoding replays a captured CUDA graph over a static KV cache
        # (fast_decode.py); elsewhere the plain loop is as fast and simpler.
        self._lock = threading.Lock()
        self.fast_decode = self.device.type == "cuda" if fast_decode is None else fast_decode
        self.static_decoder = None  # built on first use
        # torch.compile of the encoder, the prefill and the decode step: fewer, fused kernels on a
        # GPU, at the price of compilations on first use (and for new shape families).
        self.compile = compile
        if compile:
            self.encoder.compile()
        self._copies: dict[torch.dtype, AudioLLM] = {}
        self._copies_lock = threading.Lock()  # not the run lock: making a copy must not wait for a run

    @property
    def prompt_style(self) -> str:
        return self.prompt.style

    @property
    def k(self) -> int:
        """Encoder frames per audio token."""
        return self.projector.k

    @property
    def max_seconds(self) -> float:
        return self.encoder.max_seconds

    def in_dtype(self, dtype: torch.dtype) -> "AudioLLM":
        """This pipeline with its weights in ``dtype``: itself when it already is, otherwise a
        copy made once and kept (this one is left as it is)."""
        if dtype == self.dtype:
            return self
        with self._copies_lock:
            if dtype not in self._copies:
                self._copies[dtype] = AudioLLM(
                    copy.deepcopy(self.encoder), copy.deepcopy(self.projector), copy.deepcopy(self.decoder),
                    self.tokenizer, name=self.name, prompt_style=self.prompt.spec,
                    projector_trained=self.projector_trained, notice=self.notice, device=str(self.device),
                    dtype=dtype, bins=self.bins, fast_decode=self.fast_decode, compile=self.compile,
                    beams=self.beams, max_new_tokens=self.max_new_tokens, min_new_tokens=self.min_new_tokens,
                    stop_tokens=self.stop_tokens, clean=self.clean)
            return self._copies[dtype]

    def _check_dimensions(self) -> None:
        if self.projector.encoder_dim != self.encoder.dim:
            raise ValueError(
                f"projector expects {self.projector.encoder_dim}-d encoder frames (k={self.projector.k}), "
                f"but the encoder '{self.encoder.name}' gives {self.encoder.dim}-d frames"
            )
        llm_dim = self.decoder.get_input_embeddings().weight.shape[1]
        if self.projector.output_dim != llm_dim:
            raise ValueError(
                f"projector outputs {self.projector.output_dim}-d vectors but the decoder's embeddings are {llm_dim}-d"
            )

    # ----- the stages -----------------------------------------------------------------------

    def encode(self, samples: np.ndarray, clock: Optional[Clock] = None) -> torch.Tensor:
        """16 kHz mono samples → the encoder's frames [1, T, D_enc] covering the real audio."""
        return self.encoder.frames(samples, clock)

    def project(self, frames: torch.Tensor, record=None) -> torch.Tensor:
        """Encoder frames [B, T, D_enc] → audio tokens [B, T', D_llm]; ``record(name, tensor)``
        sees every projector stage."""
        return self.projector(frames, record=record)

    def audio_tokens(self, encoder_frames: int) -> int:
        """How many audio tokens the projector makes of ``encoder_frames`` frames."""
        return self.projector.output_frames(encoder_frames)

    def prompt_embeddings(self, audio: torch.Tensor, answer_ids: Optional[list[int]] = None) -> torch.Tensor:
        """The prompt's input embeddings [1, L, D_llm] with ``audio`` [1, T', D_llm] in its audio
        slot, followed by the start of the answer when one is given."""
        embedding = self.decoder.get_input_embeddings()
        return self.prompt.embed(embedding, audio[0].to(self.dtype), answer_ids)[None]

    def batch_prompt_embeddings(
        self, audio: torch.Tensor, audio_lengths: list[int], answers: list[list[int]]
    ) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """A batch of prompts, right-padded: ``audio`` [B, T'_max, D_llm] of which row b's first
        ``audio_lengths[b]`` tokens are real, each followed by its answer tokens (teacher forcing).
        Returns (embeddings [B, L, D_llm], attention mask [B, L], and for each row the position
        whose output predicts its first answer token)."""
        embedding = self.decoder.get_input_embeddings()
        rows = [self.prompt.embed(embedding, audio[b, :n], answer) for b, (n, answer) in
                enumerate(zip(audio_lengths, answers))]
        length = max(row.shape[0] for row in rows)
        embeds = rows[0].new_zeros(len(rows), length, rows[0].shape[1])
        mask = torch.zeros(len(rows), length, dtype=torch.long, device=embeds.device)
        for b, row in enumerate(rows):
            embeds[b, : row.shape[0]] = row
            mask[b, : row.shape[0]] = 1
        starts = [self.prompt.length(n) - 1 for n in audio_lengths]
        return embeds, mask, starts

    def logits_at(self, embeds: torch.Tensor, mask: torch.Tensor, rows: torch.Tensor, positions: torch.Tensor):
        """The decoder's next-token logits at (``rows``, ``positions``) only: the vocabulary
        projection is the costly part of a training step and most positions predict nothing."""
        hidden = self.decoder.get_decoder()(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        return self.decoder.get_output_embeddings()(hidden[rows, positions])

    def generate(self, inputs_embeds: torch.Tensor, max_new_tokens: int, clock: Optional[Clock] = None,
                 beams: int = 1, should_stop: decoding.ShouldStop = None) -> list[int]:
        """Greedy decoding (or beam search, ``beams`` > 1); stops at an end-of-turn token, and
        raises ``decoding.Cancelled`` as soon as ``should_stop()`` is true."""
        if beams > 1:
            pad = self.tokenizer.pad_token_id or 0
            return decoding.beam_search(self.decoder, inputs_embeds, max_new_tokens, beams, self.stop_ids, pad, clock,
                                        min_new_tokens=self.min_new_tokens, should_stop=should_stop)
        if self.fast_decode and not self.min_new_tokens:  # the CUDA-graph decoder always may stop
            if self.static_decoder is None:
                from tiny_audio.pipeline.fast_decode import StaticGreedyDecoder

                self.static_decoder = StaticGreedyDecoder(
                    self.decoder, max_cache_len=STATIC_CACHE_LEN, compile_step=self.compile
                )
            return self.static_decoder.generate(inputs_embeds, max_new_tokens, self.stop_ids, clock, should_stop)
        return decoding.greedy(self.decoder, inputs_embeds, max_new_tokens, self.stop_ids, clock,
                               min_new_tokens=self.min_new_tokens, should_stop=should_stop)

    # ----- the whole run --------------------------------------------------------------------

    @torch.inference_mode()
    def transcribe(
        self,
        audio: AudioInput | np.ndarray,
        *,
        trace: bool = True,
        max_new_tokens: Optional[int] = None,
        continue_from: Optional[list[int]] = None,
        beams: Optional[int] = None,
        on_step: Optional[StepCallback] = None,
        should_stop: decoding.ShouldStop = None,
    ) -> TranscriptionResult:
        """Transcribe a file path, a ``(samples, rate)`` pair or 16 kHz mono samples.

        ``continue_from``: token ids the answer is forced to start with (fed in the same prefill
        pass); only ``max_new_tokens`` more are generated. Live transcription uses it to extend
        the part of the transcript that has settled instead of decoding it all again.
        ``beams``: 1 for greedy decoding, more for beam search; default: the model's ``beams``.
        ``on_step(step, frames)``: told as each step starts, for progress: ``("encode", None)``,
        ``("project", encoder frames)``, ``("decode", None)``.
        ``should_stop()``: asked before the decoder and before each new token; once it is true the
        run raises ``decoding.Cancelled`` (live mode's stale runs).
        """
        beams = self.beams if beams is None else beams
        if beams < 1:
            raise ValueError(f"beams must be at least 1, got {beams}")
        with self._lock:  # one run at a time per model: callers may be threads (the app, live mode)
            return self._transcribe(audio, trace, max_new_tokens, list(continue_from or []), beams,
                                    on_step or (lambda step, frames: None), should_stop)

    def _transcribe(self, audio, trace: bool, max_new_tokens: Optional[int], forced: list[int],
                    beams: int, on_step: StepCallback, should_stop: decoding.ShouldStop = None) -> TranscriptionResult:
        timings: dict[str, float] = {}
        clock = Clock(self.device, timings)
        source = (audio, SAMPLE_RATE) if isinstance(audio, np.ndarray) else audio
        samples = load_audio(source, max_seconds=self.max_seconds)
        clock.lap("audio")
        duration = samples.size / SAMPLE_RATE
        tracer = Tracer(bins=self.bins) if trace else None

        on_step("encode", None)
        frames = self.encode(samples, clock)
        if tracer:
            tracer.record(ENCODER_OUTPUT, frames)
        if self.audio_tokens(frames.shape[1]) < 1:
            raise AudioError(f"the audio is too short for this model ({frames.shape[1]} encoder frames)")
        on_step("project", frames)
        audio_embeds = self.project(frames, record=tracer)
        clock.lap("projector")
        on_step("decode", None)
        decoding.check(should_stop)

        if max_new_tokens is None:
            max_new_tokens = default_max_new_tokens(duration) if self.max_new_tokens is None else self.max_new_tokens
        token_ids = forced + self.generate(self.prompt_embeddings(audio_embeds, forced), max_new_tokens, clock, beams,
                                           should_stop)

        trace_result = None
        if tracer:
            if token_ids:
                ids = torch.tensor(token_ids, device=self.device)
                tracer.record(GENERATED_TOKENS, self.decoder.get_input_embeddings()(ids))
            trace_result = tracer.finalize(self.native, output_stage=self.projector.stages[-1])
            clock.lap("trace")
        timings["total"] = sum(timings.values())

        mentioned = token_ids + [t for row in (trace_result.nearest_tokens if trace_result else []) for t, _ in row]
        raw = self.tokenizer.decode(token_ids, skip_special_tokens=True)
        return TranscriptionResult(
            text=self.clean(raw),
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
            k=self.k,
            stack_mode=self.projector.stack_mode,
            projector_stages=tuple(self.projector.stages),
            encoder_frame_ms=self.encoder.frame_ms,
            token_texts=token_texts(self.tokenizer, mentioned) if trace else {},
            native=self.native.summary if trace else None,
        )
