"""The report as one self-contained HTML page (charts inline as data URIs), and as PDF
rendered from it by WeasyPrint, which embeds (subsets) the Noto CJK fonts it used."""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from hotline_kpi.report.appendix import settings_lines
from hotline_kpi.report.build import Report, level3_cell, sic_notes
from hotline_kpi.report.narrative import missing_lines, report_title, sections
from hotline_kpi.report.xlsx import TITLE

_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=False)


def _wan(x: float | None) -> str:
    return "—" if x is None else f"{x:,.2f}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.2f}%"


def _sc(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def level_spans(rows: tuple) -> list[tuple]:  # noqa: ANN001
    """(row, rowspan of 一级, rowspan of 二级) per indicator row; 0 = merged into the cell above."""
    keys = [((r.indicator.level1,), (r.indicator.level1, r.indicator.level2)) for r in rows]
    out = []
    for i, row in enumerate(rows):
        spans = []
        for level in (0, 1):
            if i > 0 and keys[i - 1][level] == keys[i][level]:
                spans.append(0)
                continue
            n = 1
            while i + n < len(rows) and keys[i + n][level] == keys[i][level]:
                n += 1
            spans.append(n)
        out.append((row, spans[0], spans[1]))
    return out


def to_html(report: Report, charts: dict[str, bytes] | None = None) -> str:
    uris = {k: "data:image/png;base64," + base64.b64encode(v).decode("ascii") for k, v in (charts or {}).items()}
    return _ENV.get_template("report.html").render(
        title=TITLE, doc_title=report_title(report), r=report, project=report.catalogue.project, charts=uris,
        sections=sections(report), missing=missing_lines(report), spans=level_spans(report.rows),
        appendix=settings_lines(report), wan=_wan, pct=_pct, sc=_sc, level3=level3_cell,
        sic_notes=sic_notes(r.indicator for r in report.rows),
    )


def to_pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html).write_pdf()
