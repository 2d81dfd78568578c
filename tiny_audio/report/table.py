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
    align: str = ""  # one letter a column, "l" or "r"; default: the first column left, the rest right

    def __post_init__(self) -> None:
        self.align = self.align or "l" + "r" * (len(self.headers) - 1)
        if len(self.align) != len(self.headers) or set(self.align) - {"l", "r"}:
            raise ValueError(f"align {self.align!r} does not fit {len(self.headers)} columns")
        for row in self.rows:
            if len(row) != len(self.headers):
                raise ValueError(f"row {row} has {len(row)} cells for {len(self.headers)} headers")

    def to_markdown(self) -> str:
        """A Markdown table, then the notes."""
        def line(cells: list[str]) -> str:
            return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

        rule = "|" + "".join("---|" if a == "l" else "---:|" for a in self.align)
        lines = [line(self.headers), rule] + [line(row) for row in self.rows]
        return "\n".join(lines + ([""] + self.notes if self.notes else []))

    def to_text(self) -> str:
        """Aligned columns, a rule under the headers, then the notes."""
        widths = [max([len(h)] + [len(row[i]) for row in self.rows]) for i, h in enumerate(self.headers)]

        def line(cells: list[str]) -> str:
            padded = [cell.ljust(w) if a == "l" else cell.rjust(w) for cell, w, a in zip(cells, widths, self.align)]
            return "  ".join(padded).rstrip()

        header = line(self.headers)
        lines = [header, "-" * len(header)] + [line(row) for row in self.rows]
        if self.notes:
            lines += [""] + self.notes
        return "\n".join(lines)
