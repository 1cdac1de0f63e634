"""Writes the report in the chosen formats, each file atomically (files.write_atomic)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from hotline_kpi.files import write_atomic
from hotline_kpi.i18n import _, join
from hotline_kpi.report.build import Report

FORMATS = ("xlsx", "pdf", "html", "md", "docx")


def file_stem(report: Report) -> str:
    """A draft's files are named …-绩效自评-草稿, so a draft never overwrites a final report."""
    return f"{report.catalogue.hotline.id}-{report.year}-绩效自评" + ("-草稿" if report.draft else "")


def write_report(report: Report, formats: Iterable[str], out_dir: Path) -> list[Path]:
    from hotline_kpi.report.charts import charts as make_charts
    from hotline_kpi.report.html import to_html, to_pdf
    from hotline_kpi.report.md import to_markdown
    from hotline_kpi.report.word import to_docx
    from hotline_kpi.report.xlsx import to_xlsx

    formats = list(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(_("unknown report format(s) {formats} (known: {known})", formats=join(unknown),
                           known=join(FORMATS)))
    pngs = make_charts(report) if {"xlsx", "pdf", "html", "docx"} & set(formats) else {}
    stem = file_stem(report)
    written: list[Path] = []
    html: str | None = None
    for fmt in formats:
        path = out_dir / f"{stem}.{fmt}"
        if fmt == "xlsx":
            data = to_xlsx(report, pngs)
        elif fmt == "docx":
            data = to_docx(report, pngs)
        elif fmt in ("html", "pdf"):
            html = html or to_html(report, pngs)
            data = html.encode("utf-8") if fmt == "html" else to_pdf(html)
        else:
            data = to_markdown(report).encode("utf-8")
        write_atomic(path, data)
        written.append(path)
    return written
