"""The whole pipeline on tiny random encoders and decoders (Whisper, HuBERT, Llama, Qwen3)."""

import json

import pytest
import torch
from safetensors.torch import save_file
from tiny_models import save_pair, speechlike, tiny_hubert, tiny_llama, tiny_qwen3, tiny_whisper

from tiny_audio import AudioError, load_model
from tiny_audio.pipeline.encoders import encoder_from_model
from tiny_audio.pipeline.model import UNTRAINED_NOTICE, AudioLLM
from tiny_audio.pipeline.projector import MLP_STAGES, SWIGLU_STAGES, AudioProjector, MLPAudioProjector


def build(tokenizer, encoder_kind="whisper", decoder_kind="llama", projector_kind="swiglu", trained=True):
    encoder_model = tiny_whisper() if encoder_kind == "whisper" else tiny_hubert()
    decoder = tiny_llama(len(tokenizer)) if decoder_kind == "llama" else tiny_qwen3(len(tokenizer))
    torch.manual_seed(3)
    llm_dim = decoder.config.hidden_size
    if projector_kind == "swiglu":
        projector = AudioProjector(32, llm_dim, k=5, hidden_dim=64)
    else:
        projector = MLPAudioProjector(32, llm_dim, k=4, hidden_dim=40)
    style = "course" if projector_kind == "swiglu" else "current"
    model = AudioLLM(
        encoder_from_model(encoder_model), projector, decoder, tokenizer,
        name="tiny", prompt_style=style, projector_trained=trained,
    )
    return model, encoder_model, decoder


@pytest.mark.parametrize(
    "encoder_kind, decoder_kind, projector_kind",
    [("whisper", "llama", "swiglu"), ("hubert", "qwen3", "mlp"), ("whisper", "qwen3", "mlp"), ("hubert", "llama", "swiglu")],
)
def test_pipeline_runs_and_traces_every_stage(tokenizer, encoder_kind, decoder_kind, projector_kind):
    model, _, _ = build(tokenizer, encoder_kind, decoder_kind, projector_kind)
    result = model.transcribe((speechlike(1.5), 16_000), max_new_tokens=6)
    stages = SWIGLU_STAGES if projector_kind == "swiglu" else MLP_STAGES
    names = [s.name for s in result.stages]
    assert names[0] == "encoder output" and tuple(names[1:1 + len(stages)]) == stages
    encoder_frames = result.stages[0].shape[1]
    # Whisper keeps only the frames covering real audio: 1.5 s → 75 of its 1500.
    assert encoder_frames == (75 if encoder_kind == "whisper" else 74)
    assert result.stages[1].shape[1] == model.projector.output_frames(encoder_frames)
    assert 0 < len(result.token_ids) <= 6
    assert names[-1] == "generated tokens"
    assert result.stages[-1].shape == (len(result.token_ids), model.decoder.config.hidden_size)
    for stats in result.stages:
        assert sum(stats.histogram.counts) == stats.numel
    assert set(result.timings) >= {"features", "encoder", "projector", "prefill", "decode", "trace", "total"}
    assert result.trace.comparison is not None
    assert len(result.trace.nearest_tokens) == result.stages[1].shape[1]


def test_traced_and_untraced_runs_give_the_same_tokens(tokenizer):
    model, _, _ = build(tokenizer)
    audio = (speechlike(2.0, seed=4), 16_000)
    traced = model.transcribe(audio, max_new_tokens=8)
    plain = model.transcribe(audio, max_new_tokens=8, trace=False)
    assert traced.token_ids == plain.token_ids and traced.text == plain.text
    assert plain.trace is None and "trace" not in plain.timings


@pytest.mark.parametrize("decoder_kind", ["llama", "qwen3"])
def test_beam_search_decodes_within_the_limits_and_agrees_with_greedy_on_one_token(tokenizer, decoder_kind):
    model, _, _ = build(tokenizer, decoder_kind=decoder_kind)
    audio = (speechlike(2.0, seed=4), 16_000)
    greedy = model.transcribe(audio, max_new_tokens=1, trace=False, beams=1)
    # One new token: the best of 4 beams is the most likely token, which greedy also picks.
    assert model.transcribe(audio, max_new_tokens=1, trace=False, beams=4).token_ids == greedy.token_ids
    beam = model.transcribe(audio, max_new_tokens=8, beams=4)
    assert beam.beams == 4 and len(beam.token_ids) <= 8
    assert beam.token_ids and not set(beam.token_ids) & model.stop_ids
    assert beam.stages[-1].name == "generated tokens"
    assert {"decode", "total"} <= set(beam.timings)
    forced = greedy.token_ids + beam.token_ids[:1]
    continued = model.transcribe(audio, max_new_tokens=3, continue_from=forced, beams=3)
    assert continued.token_ids[: len(forced)] == forced and len(continued.token_ids) <= len(forced) + 3


@pytest.mark.parametrize("decoder_kind", ["llama", "qwen3"])
def test_beam_search_reads_the_prompt_once_and_finds_what_generate_alone_finds(tokenizer, decoder_kind):
    from transformers import GenerationConfig

    from tiny_audio.pipeline import decoding

    model, _, decoder = build(tokenizer, decoder_kind=decoder_kind)
    seen = []  # (batch, positions) of every decoder pass
    decoder.model.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(tuple(kwargs["inputs_embeds"].shape[:2]))
        if kwargs.get("inputs_embeds") is not None else seen.append(tuple(kwargs["input_ids"].shape[:2])),
        with_kwargs=True)
    stops = sorted(model.stop_ids)
    for seed in (4, 5, 6):
        with torch.inference_mode():
            embeds = model.prompt_embeddings(model.project(model.encode(speechlike(2.0, seed=seed))))
            seen.clear()
            tokens = decoding.beam_search(decoder, embeds, 8, 4, model.stop_ids, 0)
            passes = list(seen)
            config = GenerationConfig(max_new_tokens=8, num_beams=4, do_sample=False, eos_token_id=stops,
                                      pad_token_id=stops[0], length_penalty=1.0, early_stopping=False)
            mask = torch.ones(embeds.shape[:2], dtype=torch.long)
            alone = decoder.generate(inputs_embeds=embeds, attention_mask=mask, generation_config=config)[0].tolist()
        assert tokens == [t for t in alone if t not in model.stop_ids][: len(tokens)] and tokens, seed
        # The prompt but its last position once, at batch 1; then one position per beam a pass.
        assert passes[0] == (1, embeds.shape[1] - 1) and set(passes[1:]) == {(4, 1)}, passes


def test_beam_search_runs_generate_with_beams_and_leaves_the_static_greedy_decoder_alone(tokenizer, monkeypatch):
    from transformers import GenerationConfig

    model, _, decoder = build(tokenizer)
    model.fast_decode = True  # the GPU's static-cache greedy decoder, here on the CPU
    audio = (speechlike(2.0, seed=4), 16_000)
    beams_asked = []
    generate = decoder.generate

    def spy(*args, **kwargs):
        beams_asked.append(kwargs["generation_config"].num_beams)
        return generate(*args, **kwargs)

    monkeypatch.setattr(decoder, "generate", spy)
    first = model.transcribe(audio, max_new_tokens=8, beams=4, trace=False)
    assert beams_asked == [4] and model.static_decoder is None
    model.transcribe(audio, max_new_tokens=8, beams=1, trace=False)
    assert beams_asked == [4] and model.static_decoder is not None
    # A checkpoint's own generation settings do not reach beam search (greedy ignores them too):
    # suppressing the token that comes first would change the transcript if they did.
    decoder.generation_config = GenerationConfig(
        do_sample=True, temperature=0.6, top_k=20, top_p=0.9, repetition_penalty=5.0, no_repeat_ngram_size=1,
        length_penalty=-3.0, suppress_tokens=first.token_ids[:1], begin_suppress_tokens=first.token_ids[:1])
    assert model.transcribe(audio, max_new_tokens=8, beams=4, trace=False).token_ids == first.token_ids


def test_the_model_default_decoding_is_used_and_kept_by_copies(tokenizer):
    model, _, _ = build(tokenizer)
    assert model.transcribe((speechlike(1.0), 16_000), max_new_tokens=2).beams == 1
    model.beams = 3
    assert model.transcribe((speechlike(1.0), 16_000), max_new_tokens=2, trace=False).beams == 3
    assert model.in_dtype(torch.bfloat16).beams == 3
    with pytest.raises(ValueError, match="at least 1"):
        model.transcribe((speechlike(1.0), 16_000), beams=0)


def test_prompt_embeddings_put_the_audio_frames_in_the_prompt_slot(tokenizer):
    model, _, decoder = build(tokenizer)
    audio_embeds = torch.full((1, 7, decoder.config.hidden_size), 0.5)
    spliced = model.prompt_embeddings(audio_embeds)
    text = tokenizer.apply_chat_template(
        [{"role": "system", "content": "/no_think /system_override"}, {"role": "user", "content": "Transcribe: <audio>"}],
        tokenize=False, add_generation_prompt=True,
    )
    before, after = text.split("<audio>")
    n_before = len(tokenizer(before, add_special_tokens=False).input_ids)
    n_after = len(tokenizer(after, add_special_tokens=False).input_ids)
    assert spliced.shape[1] == n_before + 7 + n_after
    assert torch.equal(spliced[0, n_before:n_before + 7], audio_embeds[0])
    first_ids = torch.tensor(tokenizer(before, add_special_tokens=False).input_ids)
    assert torch.equal(spliced[0, :n_before], decoder.get_input_embeddings()(first_ids))


def test_untrained_projector_says_so(tokenizer):
    model, _, _ = build(tokenizer, trained=False)
    result = model.transcribe((speechlike(1.0), 16_000), max_new_tokens=3)
    assert result.notice == UNTRAINED_NOTICE and not result.projector_trained
    trained, _, _ = build(tokenizer, trained=True)
    assert trained.transcribe((speechlike(1.0), 16_000), max_new_tokens=3).notice is None


def test_bad_audio_is_a_clear_error_and_the_model_keeps_working(tokenizer):
    model, _, _ = build(tokenizer)
    with pytest.raises(AudioError, match="silent"):
        model.transcribe((torch.zeros(16_000).numpy(), 16_000))
    with pytest.raises(AudioError, match="at most 30 s"):
        model.transcribe((speechlike(31.0), 16_000))
    assert model.transcribe((speechlike(1.0), 16_000), max_new_tokens=2).token_ids


def write_checkpoint(tmp_path, tokenizer, projector_kind, layout):
    model, encoder_model, decoder = build(tokenizer, projector_kind=projector_kind)
    encoder_dir, decoder_dir = save_pair(tmp_path, encoder_model, decoder, tokenizer)
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    config = {"audio_model_id": encoder_dir, "text_model_id": decoder_dir, "encoder_dim": 32,
              "llm_dim": decoder.config.hidden_size}
    if projector_kind == "swiglu":
        config.update(audio_downsample_rate=5, projector_hidden_dim=64)
    else:
        config.update(projector_type="mlp", projector_pool_stride=4)
    (checkpoint / "config.json").write_text(json.dumps(config))
    state = {key: value.contiguous() for key, value in model.projector.state_dict().items()}
    if layout == "projector.safetensors":
        save_file(state, checkpoint / "projector.safetensors")
    else:
        save_file({f"projector.{key}": value for key, value in state.items()}, checkpoint / "model.safetensors")
    return model, checkpoint, state


@pytest.mark.parametrize("projector_kind", ["swiglu", "mlp"])
@pytest.mark.parametrize("layout", ["projector.safetensors", "model.safetensors"])
def test_checkpoint_in_each_hub_layout_round_trips(tmp_path, tokenizer, projector_kind, layout):
    original, checkpoint, _ = write_checkpoint(tmp_path, tokenizer, projector_kind, layout)
    loaded = load_model(str(checkpoint), device="cpu")
    assert type(loaded.projector) is type(original.projector)
    assert loaded.prompt_style == ("course" if projector_kind == "swiglu" else "current")
    audio = (speechlike(1.2, seed=9), 16_000)
    a = original.transcribe(audio, max_new_tokens=5)
    b = loaded.transcribe(audio, max_new_tokens=5)
    assert a.token_ids == b.token_ids
    for sa, sb in zip(a.stages, b.stages):
        assert sa.name == sb.name and sa.mean == sb.mean and sa.histogram.counts == sb.histogram.counts


def test_checkpoint_with_a_corrupted_key_fails_naming_it(tmp_path, tokenizer):
    _, checkpoint, state = write_checkpoint(tmp_path, tokenizer, "swiglu", "projector.safetensors")
    state["gate_projection.weight"] = state.pop("gate_proj.weight")
    save_file(state, checkpoint / "projector.safetensors")
    with pytest.raises(ValueError, match="gate_proj.weight|gate_projection.weight"):
        load_model(str(checkpoint), device="cpu")
    state["gate_proj.weight"] = state.pop("gate_projection.weight")
    state["up_proj.weight"] = state["up_proj.weight"][:-1].contiguous()
    save_file(state, checkpoint / "projector.safetensors")
    with pytest.raises(ValueError, match="'up_proj.weight' has shape"):
        load_model(str(checkpoint), device="cpu")


def test_composition_of_any_encoder_and_decoder(tmp_path, tokenizer):
    _, encoder_model, decoder = build(tokenizer, "hubert", "qwen3")
    encoder_dir, decoder_dir = save_pair(tmp_path, encoder_model, decoder, tokenizer)
    model = load_model(encoder=encoder_dir, decoder=decoder_dir, k=3, projector_hidden=16, device="cpu")
    assert model.projector.k == 3 and not model.projector_trained
    result = model.transcribe((speechlike(1.0), 16_000), max_new_tokens=2)
    assert result.stages[1].shape == (1, -(-49 // 3), 32 * 3)
    with pytest.raises(ValueError, match="both"):
        load_model(encoder=encoder_dir)


def test_forcing_the_start_of_the_answer_continues_the_same_greedy_decoding(tokenizer):
    model, _, _ = build(tokenizer, "whisper", "qwen3", "swiglu")
    model.stop_ids = set()  # random weights: decode the full length
    audio = (speechlike(1.5, seed=2), 16_000)
    full = model.transcribe(audio, max_new_tokens=12, trace=False).token_ids
    assert len(set(full)) > 3
    resumed = model.transcribe(audio, max_new_tokens=7, continue_from=full[:5], trace=False)
    assert resumed.token_ids == full
    other = model.transcribe(audio, max_new_tokens=7, continue_from=[full[0] + 1] + full[1:5], trace=False)
    assert other.token_ids[:5] != full[:5]


def test_trimmed_whisper_window_runs_on_the_audio_alone():
    whisper = tiny_whisper()
    full = encoder_from_model(whisper, window="full")
    trimmed = encoder_from_model(whisper, window="trimmed")
    with torch.inference_mode():
        for seconds in (1.3, 30.0):
            audio = speechlike(seconds)
            a = full.encode(full.features(audio), audio.size)
            b = trimmed.encode(trimmed.features(audio), audio.size)
            assert a.shape == b.shape == (1, -(-audio.size // 320), 32)
            # Audio that fills the window leaves nothing to trim: the same frames. Shorter audio
            # attends to less context, so its frames differ.
            assert torch.allclose(a, b, atol=1e-5) == (seconds == 30.0)
    with pytest.raises(ValueError, match="window"):
        encoder_from_model(whisper, window="half")


def test_min_new_tokens_keeps_the_first_picks_from_ending_the_answer(tokenizer):
    model, _, _ = build(tokenizer, "whisper", "qwen3", "swiglu")
    audio = (speechlike(1.5, seed=2), 16_000)
    model.stop_ids = set()
    free = model.transcribe(audio, max_new_tokens=6, trace=False).token_ids
    model.stop_ids = {free[0]}  # the first greedy pick now ends the answer at once
    assert model.transcribe(audio, max_new_tokens=6, trace=False).token_ids == []
    model.min_new_tokens = 1
    for beams in (1, 2):
        forced = model.transcribe(audio, max_new_tokens=6, trace=False, beams=beams).token_ids
        assert forced and forced[0] != free[0]
