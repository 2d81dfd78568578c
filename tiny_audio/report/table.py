"""A table as both front ends show it: built once, drawn as text by the CLI and as a grid by the app.

Cells are already formatted strings, so the terminal and the page print the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)  # lines printed under the table (and shown beside it)

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.headers):
                raise ValueError(f"row {row} has {len(row)} cells for {len(self.headers)} headers")

    def to_text(self) -> str:
        """Aligned columns: the first left-aligned, the rest right-aligned, a rule under the headers."""
        widths = [max([len(h)] + [len(row[i]) for row in self.rows]) for i, h in enumerate(self.headers)]

        def line(cells: list[str]) -> str:
            first = cells[0].ljust(widths[0])
            rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:])]
            return "  ".join([first, *rest]).rstrip()

        header = line(self.headers)
        lines = [header, "-" * len(header)] + [line(row) for row in self.rows]
        if self.notes:
            lines += [""] + self.notes
        return "\n".join(lines)
