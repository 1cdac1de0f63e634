"""What a deliverable must never show a finance reviewer, as a checker the tests run on
every format's text: paths, setting keys, program values, ASCII comparators or colons in
Chinese prose, ISO dates in prose, and the wording the reviewer sent back."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hotline_kpi.formulas import FormulaSettings
from hotline_kpi.scoring_rules import ScoringRules
from hotline_kpi.settings import Settings

_SETTING_KEYS = sorted({*FormulaSettings.model_fields, *ScoringRules.model_fields,
                        *Settings.model_fields["report"].annotation.model_fields}  # type: ignore[union-attr]
                       - {"grades"})  # 等级 is a word; "grades" in English would still be caught below
_PATTERNS = {
    "path": re.compile(r"/work\b|/home/|/tmp/|shared/|reference/|kpi\.md|config/|docs/|\.ya?ml\b|\.py\b|§"),
    "setting key": re.compile(r"\b(" + "|".join(map(re.escape, _SETTING_KEYS)) + r"|HOTLINE_KPI\w*|formulas\.\w+)\b"),
    "Python literal": re.compile(r"\b(True|False|None)\b|\[['\"]|\(['\"]|\{['\"]"),
    "ASCII comparator": re.compile(r"[<>]=|(?<![-=])[<>]\s*\d"),
    "ASCII colon in Chinese": re.compile(r"[\u4e00-\u9fff）》”]\s*:|:\s*[\u4e00-\u9fff（《“]"),
    "ISO date": re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),
    "wording sent back": re.compile(r"拖累|秒等待|剩余容错|消耗倍率|件待受理|【系统建议"),
}


def leaks(text: str) -> list[str]:
    """Every offending piece with what it is; empty when the text is clean."""
    found = []
    for what, rx in _PATTERNS.items():
        for m in rx.finditer(text):
            a, b = max(0, m.start() - 15), m.end() + 15
            found.append(f"{what}: {m.group(0)!r} in …{text[a:b]}…")
    return found


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:  # noqa: ANN001
        self._skip += tag in ("style", "script")
        self.parts += [v for k, v in attrs if k in ("alt", "title") and v]

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    p = _Text()
    p.feed(html)
    return "\n".join(p.parts)


def docx_text(path) -> str:  # noqa: ANN001
    import docx

    d = docx.Document(str(path))
    parts = [p.text for p in d.paragraphs]
    parts += [c.text for t in d.tables for r in t.rows for c in r.cells]
    parts += [p.text for s in d.sections for p in s.header.paragraphs]
    return "\n".join(parts)


def xlsx_text(path) -> str:  # noqa: ANN001
    """Every text cell (formulas are the program's totals, not text) and the sheet names."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    parts = list(wb.sheetnames)
    for ws in wb:
        parts += [str(c.value) for row in ws.iter_rows() for c in row
                  if c.value is not None and c.data_type == "s"]
    return "\n".join(parts)
