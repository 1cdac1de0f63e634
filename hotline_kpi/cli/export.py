"""``hotline-kpi export``: the stored daily counters as CSV, JSON, XLSX or OpenMetrics."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import click

from hotline_kpi.i18n import _
from hotline_kpi.cli.app import DATE, App, _console, _date, bad_option, pass_app
from hotline_kpi.domain import COUNTERS
from hotline_kpi.workbooks import daily_headers
from hotline_kpi.store import sums
from hotline_kpi.store.db import read_session


@click.group()
def export() -> None:
    """Export stored data."""


def _daily_rows(app: App, hotline_id: str | None, start: str, end: str):  # noqa: ANN202
    """(hotline id, first, last, the stored daily rows) for an export's --from/--to."""
    hid = app.hotline_id(hotline_id)
    first, last = _date(start), _date(end)
    assert first is not None and last is not None
    if last < first:
        raise bad_option("end", _("{last} is before --from {first}", last=last, first=first))
    app.require_schema()
    with read_session(app.engine) as session:
        return hid, first, last, sums.daily_counters(session, hid, first, last)


@export.command("daily")
@click.option("--hotline", "hotline_id", default=None, help="Hotline id (default: the default_hotline setting).")
@click.option("--from", "start", required=True, type=DATE, metavar="DATE", help="First local date (YYYY-MM-DD).")
@click.option("--to", "end", required=True, type=DATE, metavar="DATE", help="Last local date (YYYY-MM-DD).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "xlsx"]), default="csv", help="Output format.")
@click.option("--headers", type=click.Choice(["names", "zh", "en"]), default=None,
              help="Column headers of csv and xlsx: the counters' internal names, or the office's words in Chinese "
                   "or English (default: names for csv, the office's language for xlsx).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (atomically) instead of standard output.")
@pass_app
def export_daily(app: App, hotline_id: str | None, start: str, end: str, fmt: str, headers: str | None,
                 output: Path | None) -> None:
    """The canonical daily counters, one row a day; empty where unknown."""
    if fmt == "json" and headers is not None:
        raise bad_option("headers", _("--headers applies to csv and xlsx, not json (its keys are the counters' names)"))
    if fmt == "xlsx" and output is None:
        raise bad_option("output", _("an XLSX file is binary: name the file to write with --output"))
    hid, first, last, stored = _daily_rows(app, hotline_id, start, end)
    if fmt == "xlsx":
        from hotline_kpi.files import write_atomic
        from hotline_kpi.workbooks import daily_xlsx

        assert output is not None
        write_atomic(output, daily_xlsx(stored, first, last, headers or app.settings.language))  # type: ignore[arg-type]
        click.echo(_("wrote {n} day(s) to {file}", n=(last - first).days + 1, file=output), err=True)
        return
    rows = {r.day: r for r in stored}
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]

    def num(v: float | None) -> Any:
        if v is None:
            return None
        return int(v) if float(v).is_integer() else v

    if fmt == "json":
        data = [{"date": d.isoformat(), **{c: num(rows[d].get(c)) if d in rows else None for c in COUNTERS}}
                for d in days]
        text = json.dumps({"hotline": hid, "days": data}, ensure_ascii=False, indent=1, allow_nan=False) + "\n"
    else:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(daily_headers(headers or "names"))  # type: ignore[arg-type]
        for d in days:
            vals = [num(rows[d].get(c)) if d in rows else None for c in COUNTERS]
            w.writerow([d.isoformat(), *["" if v is None else v for v in vals]])
        text = buf.getvalue()
    if output is None:
        click.echo(text, nl=False)
    else:
        from hotline_kpi.files import write_atomic

        write_atomic(output, text.encode("utf-8"))
        click.echo(_("wrote {n} day(s) to {file}", n=len(days), file=output), err=True)


@export.command("openmetrics")
@click.option("--hotline", "hotline_id", default=None, help="Hotline id (default: the default_hotline setting).")
@click.option("--from", "start", required=True, type=DATE, metavar="DATE", help="First local date (YYYY-MM-DD).")
@click.option("--to", "end", required=True, type=DATE, metavar="DATE", help="Last local date (YYYY-MM-DD).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (atomically) instead of standard output.")
@pass_app
def export_openmetrics(app: App, hotline_id: str | None, start: str, end: str, output: Path | None) -> None:
    """The daily history as OpenMetrics with timestamps, for `promtool tsdb
    create-blocks-from openmetrics`. Days of the last 3 hours are left out."""
    from hotline_kpi.backfill import HEAD_BLOCK, export_openmetrics as render_history

    hid, first, last, rows = _daily_rows(app, hotline_id, start, end)
    result = render_history(hid, app.catalogues.hotline(hid).zone, rows, lambda year: app.catalogues.get(hid, year),
                            app.settings.formulas, first, last, not_after=app.clock.now() - HEAD_BLOCK)
    err = _console(err=True)
    for year in result.years_without_catalogue:
        err.print(_("note: no target catalogue for {hotline} in {year}: counters only for that year",
                    hotline=app.hotline_name(hid, with_id=True),
                    year=year), soft_wrap=True)
    if result.days_too_recent:
        err.print(_("note: left out {n} day(s) from {first} on: younger than {hours:g} h (Prometheus' head block)",
                    n=len(result.days_too_recent), first=result.days_too_recent[0],
                    hours=HEAD_BLOCK.total_seconds() / 3600), soft_wrap=True)
    if output is None:
        click.echo(result.text, nl=False)
    else:
        from hotline_kpi.files import write_atomic

        write_atomic(output, result.text.encode("utf-8"))
        click.echo(_("wrote {n} sample(s) to {file}", n=result.samples, file=output), err=True)
