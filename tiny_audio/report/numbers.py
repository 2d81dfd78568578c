"""Numbers and shapes as text, written the same way in tables and figure titles."""

from __future__ import annotations

import math
from typing import Sequence


def shape_text(shape: Sequence[int]) -> str:
    return "×".join(str(d) for d in shape)


def short(value: float) -> str:
    """Compact number for titles: three significant digits, tiny values in exponent form."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value == 0:
        return "0"
    if abs(value) < 1e-3:
        return f"{value:.1e}"
    return f"{value:.3g}"


def sig4(value: float) -> str:
    """Four significant digits: what a statistics table cell shows."""
    return f"{value:.4g}"
