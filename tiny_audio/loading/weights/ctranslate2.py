"""Reader for CTranslate2's ``model.bin`` format: named tensors plus aliases, nothing else.

Layout (little-endian): uint32 version, string spec name, uint32 revision, uint32 variable
count; per variable: string name, uint8 rank, rank x uint32 dims, uint8 dtype, uint32 byte
count, raw bytes; then uint32 alias count and (alias, target) string pairs. A string is a
uint16 length that counts its trailing NUL, the bytes, then the NUL.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# CTranslate2 dtype codes. bf16 (5) has no numpy dtype and is decoded by hand.
_DTYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"),
    1: np.dtype("i1"),
    2: np.dtype("<i2"),
    3: np.dtype("<i4"),
    4: np.dtype("<f2"),
}
_BF16 = 5


@dataclass
class CTranslate2Model:
    spec: str
    revision: int
    variables: dict[str, np.ndarray] = field(default_factory=dict)


class _Cursor:
    """Sequential little-endian reads over an in-memory buffer."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.bytes(struct.calcsize("<" + fmt)))

    def bytes(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("CTranslate2 model file is truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def string(self) -> str:
        (length,) = self.unpack("H")
        return self.bytes(length)[:-1].decode("utf-8")  # drop the trailing NUL


def _decode(raw: bytes, dtype: int, shape: tuple[int, ...]) -> np.ndarray:
    if dtype == _BF16:
        # bf16 is the top half of a float32: widen the bits and reinterpret.
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32).reshape(shape)
    if dtype not in _DTYPES:
        raise ValueError(f"unknown CTranslate2 dtype code {dtype}")
    # Copy so the array owns writable memory rather than viewing the file buffer.
    return np.frombuffer(raw, dtype=_DTYPES[dtype]).reshape(shape).copy()


def read_ctranslate2(path: str | Path) -> CTranslate2Model:
    """Read every variable of a CTranslate2 ``model.bin``; aliases map to their targets' arrays."""
    cur = _Cursor(Path(path).read_bytes())
    (version,) = cur.unpack("I")
    if version != 6:  # the only layout this reader is written and checked against
        raise ValueError(f"unsupported CTranslate2 model version {version} (expected 6)")
    spec = cur.string()
    (revision,) = cur.unpack("I")
    (count,) = cur.unpack("I")

    variables: dict[str, np.ndarray] = {}
    for _ in range(count):
        name = cur.string()
        (rank,) = cur.unpack("B")
        shape = cur.unpack(f"{rank}I")
        dtype, nbytes = cur.unpack("BI")
        variables[name] = _decode(cur.bytes(nbytes), dtype, shape)

    (n_aliases,) = cur.unpack("I")
    for _ in range(n_aliases):
        alias, target = cur.string(), cur.string()
        variables[alias] = variables[target]

    if cur.pos != len(cur.data):
        raise ValueError(f"{len(cur.data) - cur.pos} unexpected trailing bytes in {path}")
    return CTranslate2Model(spec=spec, revision=revision, variables=variables)
