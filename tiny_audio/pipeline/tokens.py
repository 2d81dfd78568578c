"""Vocabulary pieces as the text they stand for (what a view prints for a token id)."""

from __future__ import annotations

from typing import Iterable


def _byte_level_alphabet() -> dict[str, int]:
    """Byte-level BPE's character for each byte: printable Latin-1 bytes stand for themselves,
    the other bytes are moved to code points from 256 up, in byte order."""
    printable = {*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    alphabet, moved = {}, 0
    for byte in range(256):
        if byte in printable:
            alphabet[chr(byte)] = byte
        else:
            alphabet[chr(256 + moved)] = byte
            moved += 1
    return alphabet


_BYTE_LEVEL = _byte_level_alphabet()


def token_text(tokenizer, piece: str) -> str:
    r"""A vocabulary piece as text. The tokenizer's own decoder turns byte-level pieces ('Ġ', 'Ċ',
    'Ã©') back into text; a piece holding only part of a UTF-8 character would come back as '�',
    so its loose bytes are shown as ``\xNN`` instead."""
    to_string = getattr(tokenizer, "convert_tokens_to_string", None)
    try:
        text = to_string([piece]) if to_string else piece
    except Exception:  # a tokenizer that cannot decode a lone piece still gets a label
        text = piece
    if "\ufffd" in text and all(ch in _BYTE_LEVEL for ch in piece):
        text = bytes(_BYTE_LEVEL[ch] for ch in piece).decode("utf-8", errors="backslashreplace")
    return text


def token_texts(tokenizer, ids: Iterable[int]) -> dict[int, str]:
    """Id → text, decoding each distinct id once; an id without a piece shows as ``#id``."""
    unique = sorted(set(ids))
    pieces = tokenizer.convert_ids_to_tokens(unique)
    return {token_id: token_text(tokenizer, piece) if piece is not None else f"#{token_id}"
            for token_id, piece in zip(unique, pieces)}
