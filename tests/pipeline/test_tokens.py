"""Vocabulary pieces as the text they stand for."""

import re

from tiny_audio.pipeline.tokens import token_text, token_texts


def test_token_text_decodes_byte_level_pieces_and_shows_loose_bytes(tokenizer):
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    loose = 0
    for piece in pieces:
        decoded = tokenizer.convert_tokens_to_string([piece])
        shown = token_text(tokenizer, piece)
        if "\ufffd" in decoded:
            loose += 1
            assert "\ufffd" not in shown and re.search(r"\\x[0-9a-f]{2}", shown)
        else:
            assert shown == decoded
    assert loose  # the byte alphabet has bytes that are not whole characters
    assert token_text(tokenizer, "Ã©") == "é" and token_text(tokenizer, "ĠÃ") == " \\xc3"


def test_token_texts_names_each_id_once(tokenizer):
    ids = tokenizer(" the cat the", add_special_tokens=False)["input_ids"]
    texts = token_texts(tokenizer, ids)
    assert sorted(texts) == sorted(set(ids))
    assert "".join(texts[i] for i in ids) == " the cat the"
