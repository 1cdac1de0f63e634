"""The report as one self-contained HTML page (charts inline as data URIs), and as PDF
rendered from it by WeasyPrint, which embeds (subsets) the Noto CJK fonts it used."""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from hotline_kpi.formatting import fmt_value
from hotline_kpi.report.appendix import settings_lines
from hotline_kpi.report.build import Report
from hotline_kpi.report.xlsx import TITLE

_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=False)


def _wan(x: float | None) -> str:
    return "—" if x is None else f"{x:,.2f}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.2f}%"


def _sc(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def to_html(report: Report, charts: dict[str, bytes] | None = None) -> str:
    ex = report.execution
    monthly, cum = [], 0.0
    for m, v in enumerate(ex.monthly_yuan, 1):
        cum += v
        monthly.append({"month": m, "spent": v, "cum": cum, "pace": ex.even_pace_yuan(m),
                        "rate": cum / ex.budget_yuan if ex.budget_yuan else None})
    names = []
    for ind_id in report.not_published:
        try:
            names.append(report.catalogue.indicator(ind_id).display_name_zh)
        except KeyError:
            names.append(ind_id)
    uris = {k: "data:image/png;base64," + base64.b64encode(v).decode("ascii") for k, v in (charts or {}).items()}
    return _ENV.get_template("report.html").render(
        title=TITLE, r=report, project=report.catalogue.project, monthly=monthly, charts=uris,
        appendix=settings_lines(report), not_published=names,
        wan=_wan, pct=_pct, sc=_sc, val=lambda v, unit: fmt_value(v, unit),
    )


def to_pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html).write_pdf()
