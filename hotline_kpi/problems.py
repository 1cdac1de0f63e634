"""Why a file was rejected: each problem with its place (file, row, column, value).

The bottom of the package: the ingestors raise these, the store raises them when two
sources disagree, and the CLI and the inbox report them. Imports nothing of hotline_kpi.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Problem:
    """One reason a file was rejected, with its place."""

    file: str
    why: str
    row: int | None = None
    column: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        place = self.file
        if self.row is not None:
            place += f", row {self.row}"
        if self.column is not None:
            place += f", column {self.column}"
        shown = ""
        if self.value is not None:
            v = self.value if len(self.value) <= 80 else self.value[:77] + "..."
            shown = f", value {v!r}"
        return f"{place}{shown}: {self.why}"


class IngestRejected(ValueError):
    """A file was rejected as a whole; ``problems`` lists every reason found."""

    def __init__(self, file: str, problems: Iterable[Problem], sheet: str | None = None):
        self.file = file
        #: The sheet of a workbook that was read: named in the message.
        self.sheet = sheet
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("IngestRejected needs at least one problem")
        shown = self.problems[:50]
        more = len(self.problems) - len(shown)
        in_sheet = f", sheet {sheet!r}" if sheet else ""
        lines = [f"{file}: rejected, nothing stored ({len(self.problems)} problem(s){in_sheet}):"]
        lines += [f"  - {p}" for p in shown]
        if more:
            lines.append(f"  ... and {more} more")
        super().__init__("\n".join(lines))
