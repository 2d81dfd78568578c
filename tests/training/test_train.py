"""Training pieces on tiny random models: batching, the CTC head, the LM sequences and loss,
LoRA wrap / export / merge, checkpoints that resume, and both losses falling."""

import copy
import json

import pytest
import torch
import torch.nn.functional as F
from tiny_models import tiny_pipeline

from tiny_audio.training import data as training_data
from tiny_audio.training import loop, losses, train
from tiny_audio.pipeline.lora import add_lora, lora_state_dict, merge_lora
from tiny_audio.training.data import Example
from tiny_audio.training.losses import EmbeddingCTCHead, SequenceBuilder
from tiny_audio.training.loop import StageConfig


def examples(model, count=8, seed=0):
    """Frames of assorted lengths with short token transcripts."""
    generator = torch.Generator().manual_seed(seed)
    words = ["the cat sat", "a dog ran far", "hello there", "one two three four", "red kite", "blue door opens"]
    out = []
    for i in range(count):
        frames = torch.randn(20 + 7 * i, model.encoder.dim, generator=generator).to(torch.float16)
        tokens = model.tokenizer(words[i % len(words)], add_special_tokens=False)["input_ids"]
        out.append(Example(f"clip-{i}", frames, tokens))
    return out


def test_batches_cover_every_example_once_per_epoch_grouped_by_length():
    data = [Example(str(i), torch.zeros(10 + i, 2), [1]) for i in range(40)]
    stream = training_data.batches(data, 8, seed=3)
    epoch = [next(stream) for _ in range(5)]
    assert sorted(e.id for b in epoch for e in b) == sorted(e.id for e in data)
    # Length-sorted with ±10 % jitter: a batch spans a narrow range of lengths.
    assert all(max(e.frames.shape[0] for e in b) - min(e.frames.shape[0] for e in b) <= 15 for b in epoch)
    again = training_data.batches(data, 8, seed=3)
    assert [[e.id for e in b] for b in epoch] == [[e.id for e in next(again)] for _ in range(5)]


def test_validation_split_is_fixed_by_id():
    data = [Example(f"id{i}", torch.zeros(3, 2), [1]) for i in range(50)]
    fit, val = training_data.split_validation(data, 5)
    fit2, val2 = training_data.split_validation(list(reversed(data)), 5)
    assert len(val) == 5 and len(fit) == 45
    assert {e.id for e in val} == {e.id for e in val2} and not {e.id for e in val} & {e.id for e in fit}


def test_a_kind_of_clip_repeated_is_heard_that_many_times_an_epoch():
    data = [Example(f"id{i}", torch.zeros(10 + i, 2), [1], "human" if i % 4 == 0 else "tts") for i in range(40)]
    weighted = training_data.repeat_kind(data, "human", 3)
    assert len(weighted) == 40 + 2 * 10
    stream = training_data.batches(weighted, 6, seed=1)
    epoch = [e for _ in range(10) for e in next(stream)]
    counts = {e.id: sum(1 for x in epoch if x.id == e.id) for e in data}
    assert all(counts[e.id] == (3 if e.kind == "human" else 1) for e in data)
    masked = training_data.FrameMasking()(data[0], torch.Generator().manual_seed(0))
    assert masked.kind == "human"
    with pytest.raises(ValueError, match="at least 1"):
        training_data.repeat_kind(data, "human", 0)


def test_learning_rate_warms_up_then_decays_to_a_tenth():
    config = StageConfig("x", steps=100, batch_size=1, lr=1.0, warmup=10)
    assert loop.lr_at(0, config) == pytest.approx(0.1)
    assert loop.lr_at(9, config) == pytest.approx(1.0)
    assert loop.lr_at(10, config) == pytest.approx(1.0)
    assert loop.lr_at(100, config) == pytest.approx(0.1)
    assert loop.lr_at(55, config) == pytest.approx(0.55)


def test_ctc_head_scores_the_llm_vocabulary_by_cosine():
    embeddings = torch.randn(30, 8)
    head = EmbeddingCTCHead(embeddings, [3, 7, 11])
    frames = torch.stack([embeddings[7] * 5, embeddings[11] * 0.1])[None]  # scale does not matter
    log_probs = head(frames)
    assert log_probs.shape == (1, 2, 4)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(1, 2))
    assert log_probs[0].argmax(-1).tolist() == [2, 3]  # blank is 0, then 3, 7, 11
    targets, lengths = head.targets([Example("a", torch.zeros(1, 1), [7, 5, 3]), Example("b", torch.zeros(1, 1), [11])])
    assert targets.tolist() == [2, 1, 3] and lengths.tolist() == [2, 1]  # token 5 is outside the vocabulary


def test_lm_loss_predicts_exactly_the_transcript_and_end_token():
    model = tiny_pipeline()
    batch = examples(model, 3)
    builder = SequenceBuilder(model)
    frames, lengths = training_data.pad_frames(batch)
    audio = model.projector(frames)
    audio_lengths = [model.projector.output_frames(int(n)) for n in lengths]
    embeds, mask, (rows, positions), targets = builder(audio, audio_lengths, batch)
    assert targets.tolist() == [t for e in batch for t in e.tokens + [builder.end_id]]
    assert mask.sum(1).tolist() == [int(positions[rows == r].max()) + 1 for r in range(len(batch))]
    # Teacher forcing: after each predicting position comes the token it predicts (but the end).
    not_last = torch.cat([torch.arange(len(e.tokens) + 1) < len(e.tokens) for e in batch])
    following = embeds[rows[not_last], positions[not_last] + 1]
    answers = torch.cat([torch.tensor(e.tokens) for e in batch])
    assert torch.allclose(following, model.decoder.get_input_embeddings()(answers))

    # Logits only at the predicted positions give the same loss as the whole sequence would.
    with torch.no_grad():
        loss = losses.lm_loss(model, builder, batch)
        logits = model.decoder(inputs_embeds=embeds, attention_mask=mask).logits
        full = F.cross_entropy(logits[rows, positions], targets)
    assert loss.item() == pytest.approx(full.item(), rel=1e-5)


def test_the_sequence_matches_the_prompt_the_app_decodes_with():
    model = tiny_pipeline()
    (example,) = examples(model, 1)
    frames, lengths = training_data.pad_frames([example])
    audio = model.projector(frames)
    n_audio = model.projector.output_frames(int(lengths[0]))
    embeds, mask, (rows, positions), _ = SequenceBuilder(model)(audio, [n_audio], [example])
    with torch.no_grad():
        spliced = model.prompt_embeddings(model.projector(example.frames.float()[None]), example.tokens)
    assert torch.allclose(embeds[0, : spliced.shape[1]], spliced, atol=1e-6)
    assert int(positions[0]) == spliced.shape[1] - len(example.tokens) - 1


def test_lora_starts_as_the_base_model_and_merges_to_what_it_learned():
    model = tiny_pipeline()
    reference = copy.deepcopy(model.decoder)
    ids = torch.tensor([[5, 9, 14, 2]])
    before = model.decoder(input_ids=ids).logits
    wrapped = add_lora(model.decoder, rank=2, alpha=4.0)
    assert wrapped and all(name.endswith(("q_proj", "v_proj")) for name in wrapped)
    assert [n for n, p in model.decoder.named_parameters() if p.requires_grad] == [
        n for n in (f"{w}.lora_{ab}.weight" for w in wrapped for ab in "AB")
    ]
    assert torch.allclose(model.decoder(input_ids=ids).logits, before)
    with torch.no_grad():
        for name, p in model.decoder.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    learned = model.decoder(input_ids=ids).logits
    assert not torch.allclose(learned, before, atol=1e-3)
    assert merge_lora(reference, lora_state_dict(model.decoder), alpha=4.0) == len(wrapped)
    assert torch.allclose(reference(input_ids=ids).logits, learned, atol=1e-5)


def test_an_adapter_that_does_not_fit_names_the_layer():
    model = tiny_pipeline()
    state = {"model.layers.0.self_attn.q_proj.lora_A.weight": torch.zeros(2, 3),
             "model.layers.0.self_attn.q_proj.lora_B.weight": torch.zeros(5, 2)}
    with pytest.raises(ValueError, match="model.layers.0.self_attn.q_proj"):
        merge_lora(model.decoder, state, alpha=4.0)
    with pytest.raises(ValueError, match="names no layer"):
        merge_lora(model.decoder, {"nowhere.lora_A.weight": torch.zeros(1, 1), "nowhere.lora_B.weight": torch.zeros(1, 1)}, 1.0)


def _stage(name, steps, lr):
    return StageConfig(name, steps=steps, batch_size=4, lr=lr, warmup=2, save_every=5, val_every=5)


def test_both_stages_lower_their_loss_and_resume_where_they_stopped(tmp_path):
    torch.manual_seed(0)
    model = tiny_pipeline()
    data = examples(model, 8)
    log = loop.LossLog(tmp_path / "loss.jsonl")
    align = train.train_align(model, data, data[:2], tmp_path, _stage("align", 40, 3e-3), log, progress=False)
    assert sum(align[-5:]) / 5 < 0.8 * sum(align[:5]) / 5
    lm = train.train_lm(model, data, data[:2], tmp_path, _stage("lm", 30, 1e-2), log, lora_rank=2, progress=False)
    assert sum(lm[-5:]) / 5 < 0.97 * sum(lm[:5]) / 5  # a random tiny LLM learns slowly
    entries = log.read()
    assert [e["step"] for e in entries if e["stage"] == "lm" and "loss" in e] == list(range(1, 31))
    assert any("val_loss" in e for e in entries)

    # A longer run from the same directory picks up at step 30 with the same weights.
    resumed = tiny_pipeline()
    more = train.train_lm(resumed, data, data[:2], tmp_path, _stage("lm", 30, 1e-2), log, lora_rank=2, progress=False)
    assert more == []  # nothing left to do at step 30: the checkpoint's weights, untouched
    assert torch.equal(resumed.projector.down_proj.weight, model.projector.down_proj.weight)
    adapter, restored = lora_state_dict(model.decoder), lora_state_dict(resumed.decoder)
    assert adapter.keys() == restored.keys() and all(torch.equal(adapter[k], restored[k]) for k in adapter)
    more = train.train_lm(resumed, data, data[:2], tmp_path, _stage("lm", 33, 1e-2), log, lora_rank=2, progress=False)
    assert len(more) == 3
    assert [e["step"] for e in log.read() if e["stage"] == "lm" and "loss" in e][-3:] == [31, 32, 33]

    written = train.export(model, tmp_path, lora_rank=2)
    assert [p.name for p in written] == ["nano_projector.safetensors", "nano_lora.safetensors", "nano_lora.json"]
    assert json.loads((tmp_path / "nano_lora.json").read_text()) == {"rank": 2, "alpha": 4.0, "targets": ["q_proj", "v_proj"]}


def test_alignment_gives_the_projector_the_llm_embedding_scale():
    model = tiny_pipeline()
    with torch.no_grad():
        model.projector.ln_post.weight.uniform_(0.5, 3.0)  # as training may leave it
    train.match_embedding_scale(model)
    with torch.no_grad():
        out = model.projector(torch.randn(1, 40, model.encoder.dim))
    rows = model.decoder.get_input_embeddings().weight
    typical = rows.pow(2).mean(1).sqrt().median()
    assert out.pow(2).mean().sqrt().item() == pytest.approx(typical.item(), rel=0.1)


def test_the_float16_export_merges_into_the_logits_the_trained_model_gives(tmp_path):
    from safetensors.torch import load_file

    model = tiny_pipeline()
    reference = copy.deepcopy(model.decoder)
    add_lora(model.decoder, rank=2, alpha=train.LORA_ALPHA_PER_RANK * 2)
    with torch.no_grad():
        for name, p in model.decoder.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.3)
    train.export(model, tmp_path, lora_rank=2)
    config = json.loads((tmp_path / "nano_lora.json").read_text())
    merge_lora(reference, load_file(str(tmp_path / "nano_lora.safetensors")), alpha=config["alpha"])
    ids = torch.tensor([[3, 8, 13, 21, 34]])
    with torch.no_grad():
        assert torch.allclose(reference(input_ids=ids).logits, model.decoder(input_ids=ids).logits, atol=2e-2)
    # A projector-only export removes an adapter left from an earlier run in the same folder.
    train.export(model, tmp_path, lora_rank=0)
    assert not (tmp_path / "nano_lora.safetensors").exists() and not (tmp_path / "nano_lora.json").exists()


def test_a_resumed_stage_forgets_the_log_lines_it_runs_again(tmp_path):
    log = loop.LossLog(tmp_path / "loss.jsonl")
    for step in range(1, 6):
        log.write(stage="align", step=step, loss=1.0)
    for step in range(1, 4):
        log.write(stage="lm", step=step, loss=2.0)
    log.drop_after("lm", 1)
    assert [(e["stage"], e["step"]) for e in log.read()] == [("align", s) for s in range(1, 6)] + [("lm", 1)]


def test_eval_refuses_a_weights_folder_without_a_projector(tmp_path, capsys):
    from tiny_audio.training import evaluate as evaluation

    assert evaluation.main([str(tmp_path), "--weights", str(tmp_path)]) == 2
    assert "has no nano_projector.safetensors" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        evaluation.main([str(tmp_path), "--beams", "0"])
    assert "--beams: must be at least 1" in capsys.readouterr().err


def test_frame_masking_zeroes_bounded_spans_reproducibly_and_leaves_the_cache_alone():
    frames = torch.ones(500, 384, dtype=torch.float16)  # 10 s at 50 frames per second
    example = Example("clip", frames, [1, 2])
    masking = training_data.FrameMasking()
    masked = masking(example, torch.Generator().manual_seed(7))
    again = masking(example, torch.Generator().manual_seed(7))
    assert torch.equal(masked.frames, again.frames) and masked.tokens == [1, 2]
    assert torch.equal(frames, torch.ones(500, 384, dtype=torch.float16))  # the cached tensor is untouched
    zero_rows = (masked.frames == 0).all(dim=1).sum().item()
    zero_columns = (masked.frames == 0).all(dim=0).sum().item()
    assert 0 < zero_rows <= 10 * masking.time_width  # one mask per second, each at most time_width
    assert 0 < zero_columns <= masking.channel_masks * masking.channel_width
    other = masking(example, torch.Generator().manual_seed(8))
    assert not torch.equal(masked.frames, other.frames)


class _Offset(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))


def test_keeping_the_best_step_ends_on_the_lowest_validation_loss(tmp_path):
    """Training pulls w towards +1 while validation wants -1: the best step is the start."""
    module = _Offset()
    fit = [Example(f"t{i}", torch.zeros(1, 1), [1]) for i in range(4)]
    val = [Example("v", torch.zeros(1, 1), [-1])]

    def loss_of(m):
        return lambda batch: sum((m.w - e.tokens[0]).pow(2).sum() for e in batch) / len(batch)

    log = loop.LossLog(tmp_path / "loss.jsonl")
    config = StageConfig("x", steps=10, batch_size=2, lr=0.1, warmup=1, save_every=5, val_every=5)
    loop.run_stage(config, {"m": module}, loss_of(module), fit, val, tmp_path, log, progress=False)
    assert [e["step"] for e in log.read() if "val_loss" in e] == [0, 5, 10]
    assert module.w.item() == 0.0  # back at step 0, where validation was lowest
    last = _Offset()
    config.keep = "last"
    loop.run_stage(config, {"m": last}, loss_of(last), fit, val, tmp_path / "last",
                    loop.LossLog(tmp_path / "last.jsonl"), progress=False)
    assert last.w.item() > 0.5


def test_a_warm_start_reads_another_run_s_exported_projector_and_adapter(tmp_path):
    torch.manual_seed(0)
    trained = tiny_pipeline()
    add_lora(trained.decoder, rank=2, alpha=train.LORA_ALPHA_PER_RANK * 2)
    with torch.no_grad():
        for name, p in list(trained.decoder.named_parameters()) + list(trained.projector.named_parameters()):
            if "lora_B" in name or "down_proj" in name:
                p.normal_(0, 0.3)
    train.export(trained, tmp_path, lora_rank=2)
    fresh = tiny_pipeline()
    train.warm_start(fresh, tmp_path, lora_rank=2)
    assert torch.allclose(fresh.projector.down_proj.weight, trained.projector.down_proj.weight, atol=1e-3)
    expected, loaded = lora_state_dict(trained.decoder), lora_state_dict(fresh.decoder)
    assert expected.keys() == loaded.keys() and all(torch.allclose(expected[k], loaded[k], atol=1e-3) for k in expected)
    with pytest.raises(ValueError, match="rank-2 adapter; this run asks for rank 4"):
        train.warm_start(tiny_pipeline(), tmp_path, lora_rank=4)
    with pytest.raises(ValueError, match="asks for none"):  # its projector was trained with that adapter
        train.warm_start(tiny_pipeline(), tmp_path, lora_rank=0)


def test_a_warm_start_can_grow_the_adapter_to_every_linear_layer(tmp_path):
    from tiny_audio.pipeline.lora import ALL_TARGETS, wrapped_targets

    torch.manual_seed(0)
    trained = tiny_pipeline()
    add_lora(trained.decoder, rank=2, alpha=train.LORA_ALPHA_PER_RANK * 2)
    with torch.no_grad():
        for name, p in trained.decoder.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.3)
    train.export(trained, tmp_path / "qv", lora_rank=2)
    grown = tiny_pipeline()
    train.warm_start(grown, tmp_path / "qv", lora_rank=2, lora_targets=ALL_TARGETS)
    assert wrapped_targets(grown.decoder) == list(ALL_TARGETS)
    ids = torch.tensor([[3, 8, 13, 21, 34]])
    with torch.no_grad():  # the new adapters start at zero: the same model as the one it goes on from
        assert torch.allclose(grown.decoder(input_ids=ids).logits, trained.decoder(input_ids=ids).logits, atol=2e-2)
    train.export(grown, tmp_path / "all", lora_rank=2)
    assert json.loads((tmp_path / "all" / "nano_lora.json").read_text())["targets"] == list(ALL_TARGETS)
    with pytest.raises(ValueError, match="must include them"):  # an adapter never shrinks
        train.warm_start(tiny_pipeline(), tmp_path / "all", lora_rank=2)


def test_the_command_refuses_adapter_settings_it_cannot_honour_before_writing_anything(tmp_path, capsys):
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "nano_lora.json").write_text(json.dumps({"rank": 2, "alpha": 4.0, "targets": ["q_proj", "k_proj"]}))
    out = tmp_path / "out"
    for args, message in [
        (["--lora-rank", "0", "--lora-targets", "all"], "goes with a --lora-rank above 0"),
        (["--stage", "lm", "--init", str(earlier), "--lora-rank", "2"], "must include them"),
        (["--stage", "lm", "--init", str(earlier), "--lora-rank", "4", "--lora-targets", "all"], "asks for rank 4"),
    ]:
        with pytest.raises(SystemExit):
            train.main([str(tmp_path / "data"), "--out", str(out), *args])
        assert message in capsys.readouterr().err
    assert not out.exists()
    out.mkdir()  # an lm stage resumed with another adapter than its checkpoint's
    (out / "lm.pt").write_bytes(b"")
    (out / "args.json").write_text(json.dumps({"args": {"lora_rank": 8, "lora_targets": "all"}}))
    with pytest.raises(SystemExit):
        train.main([str(tmp_path / "data"), "--out", str(out), "--stage", "lm"])
    assert "--lora-rank 8 --lora-targets all; rerun with those" in capsys.readouterr().err


def test_a_fresh_start_forgets_what_an_earlier_attempt_logged_and_kept(tmp_path):
    module = _Offset()
    fit = [Example(f"t{i}", torch.zeros(1, 1), [1]) for i in range(4)]
    val = [Example("v", torch.zeros(1, 1), [1])]
    log = loop.LossLog(tmp_path / "loss.jsonl")
    log.write(stage="x", step=5, val_loss=0.0)  # an earlier attempt's unbeatable line, its checkpoint gone
    loop.save_checkpoint(tmp_path / "x-best.pt", {"m": _Offset()}, None, 5)

    def loss_fn(batch):
        return sum((module.w - e.tokens[0]).pow(2).sum() for e in batch) / len(batch)

    config = StageConfig("x", steps=10, batch_size=2, lr=0.1, warmup=1, save_every=5, val_every=5)
    loop.run_stage(config, {"m": module}, loss_fn, fit, val, tmp_path, log, progress=False)
    assert [e["step"] for e in log.read() if "val_loss" in e] == [0, 5, 10]
    assert module.w.item() > 0.5  # this attempt's own best (its last step), not the stale file's weights
