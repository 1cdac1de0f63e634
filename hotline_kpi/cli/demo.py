"""``hotline-kpi demo``: a synthetic year, loaded and shown as a scoreboard."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from hotline_kpi.cli.app import App, Failure, _console, pass_app
from hotline_kpi.cli.ingest import _progress_for
from hotline_kpi.cli.render import render_scoreboard
from hotline_kpi.problems import IngestRejected
from hotline_kpi.store import migrate
from hotline_kpi.store.db import read_session


@click.command()
@click.option("--year", type=int, default=2019, show_default=True)
@click.option("--seed", type=int, default=12345, show_default=True)
@click.option("--raw-from", type=click.IntRange(1, 13), default=12, show_default=True,
              help="First month whose figures come from the hotline's own systems (call platform queue_log, "
              "ticket and callback exports, at full scale); the months before come from the office's daily "
              "reports. 1 = a whole raw year (generating and loading it takes minutes); 13 = reports only.")
@pass_app
def demo(app: App, year: int, seed: int, raw_from: int) -> None:
    """Generate a realistic synthetic year for Shanghai 12345, load it and print the scoreboard."""
    from hotline_kpi.demo import write_daily_reports, write_spending_ledger
    from hotline_kpi.demo_sources import write_demo_sources
    from hotline_kpi.ingest.pipeline import ingest_file
    from hotline_kpi.evaluation import load_scoreboard

    hid = app.hotline_id("shanghai-12345")
    if app.catalogues.get(hid, year) is None:
        raise Failure(f"no target catalogue for {hid} in {year}")
    migrate.upgrade(app.engine)
    folder = app.settings.var_dir / "demo" / str(year)
    err = _console(err=True)
    report_months, raw_months = range(1, raw_from), range(raw_from, 13)
    files: list[tuple[str, Path]] = [
        ("daily-report", p) for p in write_daily_reports(folder / "daily-report", year, seed, report_months)]
    files.append(("spending", write_spending_ledger(folder, year, seed)))
    if raw_months:
        err.print(f"demo: generating the call platform, ticket and callback exports of {year}-{raw_from:02d}"
                  f"{'' if raw_from == 12 else ' to 12'} ...", soft_wrap=True)
        files += write_demo_sources(folder / "systems", year, seed, scale=1.0, months=raw_months)
    loaded = 0
    for source, path in files:
        try:
            for progress in _progress_for(path):
                outcome = ingest_file(app.engine, path, settings=app.settings, catalogues=app.catalogues,
                                      clock=app.clock, hotline_id=hid, source=source, progress=progress)
        except IngestRejected as exc:  # a bug in the generator: show it whole
            raise Failure(str(exc)) from None
        loaded += outcome.status == "loaded"
    def span(months: range) -> str:
        return f"month {months[0]}" if len(months) == 1 else f"months {months[0]}-{months[-1]}"

    parts = []
    if report_months:
        parts.append(f"{span(report_months)} from the office's daily reports")
    if raw_months:
        parts.append(f"{span(raw_months)} from the call platform's queue_log and the ticket and callback exports")
    parts.append("the project's spending ledger")
    err.print(f"demo: {year} for {hid}: {'; '.join(parts)} ({len(files)} files in {folder}, {loaded} newly "
              f"loaded) into {app.engine.url.render_as_string(hide_password=True)}", soft_wrap=True)
    with read_session(app.engine) as session:
        sb = load_scoreboard(session, app.catalogues, app.settings.formulas, hid, dt.date(year, 12, 31))
    _console().print(render_scoreboard(sb, app))
