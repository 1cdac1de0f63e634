"""Why a file was rejected: each problem with its place (file, row, column, value).

The bottom of the package: the ingestors raise these, the store raises them when two
sources disagree, and the CLI and the inbox report them. Imports only the message catalogue
(``i18n``, same layer): ``why`` is usually a :class:`~hotline_kpi.i18n.Msg`, shown in the
language of wherever the problem is shown (:meth:`Problem.render`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from hotline_kpi.i18n import C_, M_, Lang, current_language, localize


@dataclass(frozen=True)
class Problem:
    """One reason a file was rejected, with its place."""

    file: str
    why: str
    row: int | None = None
    column: str | None = None
    value: str | None = None

    def place(self, lang: Lang | None = None) -> str:
        """Where: the file, the row as the spreadsheet numbers it, the column header as written."""
        parts: list[str] = [self.file]
        if self.row is not None:
            parts.append(M_("row {row}", row=self.row))
        if self.column is not None:
            parts.append(M_("column {column}", column=localize(self.column, lang)))
        if self.value is not None:
            v = self.value if len(self.value) <= 80 else self.value[:77] + "..."
            parts.append(M_("value {value}", value=_quoted(v, lang)))
        return localize(C_("place", ", "), lang).join(localize(p, lang) for p in parts)

    def render(self, lang: Lang | None = None) -> str:
        """The problem in ``lang`` (default: the current language)."""
        return localize(M_("{place}: {why}", place=self.place(lang), why=self.why), lang)

    def __str__(self) -> str:
        return self.render()


class IngestRejected(ValueError):
    """A file was rejected as a whole; ``problems`` lists every reason found."""

    def __init__(self, file: str, problems: Iterable[Problem], sheet: str | None = None, notes: Iterable[object] = ()):
        self.file = file
        #: The sheet of a workbook that was read: named in the message.
        self.sheet = sheet
        #: What the reading noted before it failed (a hidden sheet not read, headers ignored):
        #: told after the problems, since it may be why the file failed.
        self.notes: tuple[object, ...] = tuple(notes)
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("IngestRejected needs at least one problem")
        super().__init__(self.render("en"))

    def __reduce__(self):
        # Sent back by a worker process (pickled): made again from its parts, not from the
        # rendered text only, which is all an exception pickles by default.
        return type(self), (self.file, self.problems, self.sheet, self.notes), self.__dict__

    def render(self, lang: Lang | None = None) -> str:
        """Every problem (the first 50) in ``lang`` (default: the current language)."""
        shown = self.problems[:50]
        more = len(self.problems) - len(shown)
        n = len(self.problems)
        if self.sheet:
            head = M_("{file}: rejected, nothing stored ({n} problem(s), sheet {sheet}):",
                      file=self.file, n=n, sheet=_quoted(self.sheet, lang))
        else:
            head = M_("{file}: rejected, nothing stored ({n} problem(s)):", file=self.file, n=n)
        lines = [localize(head, lang)]
        lines += [f"  - {p.render(lang)}" for p in shown]
        if more:
            lines.append(localize(M_("  ... and {more} more", more=more), lang))
        lines += [localize(M_("  note: {note}", note=note), lang) for note in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


def _quoted(text: str, lang: Lang | None) -> str:
    """A value as written, in the quotation marks of the language (“” in Chinese)."""
    return repr(text) if (lang or current_language()) == "en" else f"“{text}”"


def plain_number(number: object) -> str:
    """A number as people write it: no float noise (15 significant digits, as a spreadsheet
    shows a cell), never in exponent notation (0.00005, 4000000), no trailing zeros."""
    from decimal import Decimal

    if isinstance(number, bool) or not isinstance(number, (int, float, Decimal)):
        return str(number)
    if isinstance(number, float) and (number != number or number in (float("inf"), float("-inf"))):
        return repr(number)
    text = format(Decimal(f"{number:.15g}") if isinstance(number, float) else Decimal(number), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def written(value: object, percent: bool = False) -> str:
    """A cell's value as the office sees it in the spreadsheet: text as it is; a number as
    :func:`plain_number` (0.553, not 0.5529999999999999); a percent-formatted one as 55.30%."""
    if isinstance(value, str):
        return value
    if percent and isinstance(value, (int, float)) and not isinstance(value, bool):
        text = plain_number(100 * value)
        decimals = len(text.partition(".")[2])
        return (text + ("." if not decimals else "") + "0" * max(0, 2 - decimals)) + "%"
    return plain_number(value)
