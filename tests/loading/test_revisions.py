"""``name@revision``: the Hub snapshot a model name pins, read from an offline Hub cache laid out as
huggingface_hub lays it out (no network: the Hub is never reached)."""

from __future__ import annotations

import pytest
from tiny_checkpoints import qwen3_tokenizer, save_decoder, save_whisper, write_current

from tiny_audio import load_model
from tiny_audio.loading.hub import normalize_spec, split_revision

FIRST, SECOND = "1" * 40, "2" * 40


def test_a_name_splits_at_its_last_at_sign_and_a_directory_never_does(tmp_path):
    assert split_revision("mazesmazes/tiny-audio") == ("mazesmazes/tiny-audio", None)
    assert split_revision(" mazesmazes/tiny-audio @ v1 ") == ("mazesmazes/tiny-audio", "v1")
    assert normalize_spec(" mazesmazes/tiny-audio @ v1 ") == "mazesmazes/tiny-audio@v1"
    folder = tmp_path / "run@3"
    folder.mkdir()
    assert split_revision(str(folder)) == (str(folder), None)
    for bad in ("@v1", "owner/name@", "owner/name@ "):
        with pytest.raises(ValueError, match="revision"):
            split_revision(bad)


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """A Hub cache holding two snapshots of owner/tiny-audio: FIRST (tag v1) and SECOND (main),
    with different projector weights; the Hub itself is switched off."""
    from huggingface_hub import constants

    parts = tmp_path / "parts"
    encoder, decoder = save_whisper(parts / "whisper"), save_decoder(parts / "qwen3", "qwen3", qwen3_tokenizer())
    repo = tmp_path / "hub" / "models--owner--tiny-audio"
    checkpoints = {}
    for revision, hidden in ((FIRST, 40), (SECOND, 56)):
        checkpoints[revision] = write_current(repo / "snapshots" / revision, encoder, decoder, hidden=hidden)
    (repo / "refs").mkdir()
    (repo / "refs" / "v1").write_text(FIRST)
    (repo / "refs" / "main").write_text(SECOND)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return checkpoints


@pytest.mark.parametrize("spec, revision", [("owner/tiny-audio@v1", FIRST), (f"owner/tiny-audio@{FIRST}", FIRST),
                                            ("owner/tiny-audio", SECOND), ("owner/tiny-audio @ main", SECOND)])
def test_a_revision_picks_its_snapshot(offline_hub, spec, revision):
    model = load_model(spec, device="cpu")
    expected = offline_hub[revision].projector
    assert model.projector.linear_1.weight.shape == expected["linear_1.weight"].shape
    assert model.projector.linear_1.weight.equal(expected["linear_1.weight"])
    assert model.name.startswith(spec)


def test_an_unknown_revision_is_an_error_not_another_snapshot(offline_hub):
    with pytest.raises(Exception, match="snapshot"):
        load_model("owner/tiny-audio@v9", device="cpu")
