"""The static-cache decoder (the GPU's fast path, run eagerly here) computes what the plain loop does."""

import pytest
import torch
from tiny_models import speechlike, tiny_llama, tiny_qwen3, tiny_tokenizer, tiny_whisper

from tiny_audio.pipeline.encoders import encoder_from_model
from tiny_audio.pipeline.fast_decode import StaticGreedyDecoder
from tiny_audio.pipeline.model import AudioLLM
from tiny_audio.pipeline.projector import AudioProjector


@pytest.mark.parametrize("make_decoder", [tiny_llama, tiny_qwen3])
def test_static_cache_decoding_gives_the_plain_greedy_tokens(make_decoder):
    tokenizer = tiny_tokenizer()
    decoder = make_decoder(len(tokenizer), seed=5)
    plain = AudioLLM(
        encoder_from_model(tiny_whisper()), AudioProjector(32, decoder.config.hidden_size, k=5, hidden_dim=64),
        decoder, tokenizer, name="tiny", fast_decode=False,
    )
    plain.stop_ids = set()  # random weights: decode the full length on both paths
    static = StaticGreedyDecoder(decoder, max_cache_len=160, use_graph=False)
    torch.manual_seed(0)
    with torch.inference_mode():
        for scale in (1.0, 3.0):  # two requests through the same static cache
            prompt = plain.prompt_embeddings(torch.randn(1, 15, decoder.config.hidden_size) * scale)
            expected = plain.generate(prompt, 48)
            assert static.generate(prompt, 48, set()) == expected
    assert len(set(expected)) > 4, "degenerate check: the decoder repeats one token"


def test_fast_path_through_transcribe_and_cache_overflow():
    tokenizer = tiny_tokenizer()
    decoder = tiny_qwen3(len(tokenizer), seed=2)
    args = (encoder_from_model(tiny_whisper()), AudioProjector(32, 64, k=5, hidden_dim=64), decoder, tokenizer)
    fast = AudioLLM(*args, name="fast", fast_decode=True)
    slow = AudioLLM(*args, name="slow", fast_decode=False)
    audio = (speechlike(2.0), 16_000)
    assert fast.transcribe(audio, max_new_tokens=20).token_ids == slow.transcribe(audio, max_new_tokens=20).token_ids
    small = StaticGreedyDecoder(decoder, max_cache_len=8, use_graph=False)
    with pytest.raises(ValueError, match="exceeds the static cache"):
        small.generate(torch.zeros(1, 9, 64), 4, set())


@pytest.mark.parametrize("beams, fast", [(1, False), (1, True), (3, False)])
def test_every_decoder_stops_a_run_no_longer_wanted_within_a_token(beams, fast):
    from tiny_audio.pipeline.decoding import Cancelled

    tokenizer = tiny_tokenizer()
    decoder = tiny_llama(len(tokenizer), seed=5)
    model = AudioLLM(encoder_from_model(tiny_whisper()), AudioProjector(32, decoder.config.hidden_size, k=5, hidden_dim=64),
                     decoder, tokenizer, name="tiny", fast_decode=fast)
    model.stop_ids = set()  # random weights: without the cancel it would decode all 40 tokens
    audio = (speechlike(1.5), 16_000)
    asked = []
    with pytest.raises(Cancelled):  # wanted for three asks, then not
        model.transcribe(audio, max_new_tokens=40, beams=beams, should_stop=lambda: asked.append(1) or len(asked) > 3)
    assert len(asked) <= 5  # it stopped at once (beam search asks once more after the search ends)
    assert len(model.transcribe(audio, max_new_tokens=40, beams=beams, should_stop=lambda: False).token_ids) == 40
