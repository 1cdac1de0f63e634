"""``hotline-kpi demo``: a synthetic year, loaded and shown as a scoreboard."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from hotline_kpi.i18n import _
from hotline_kpi.cli.app import App, Failure, _console, pass_app
from hotline_kpi.cli.ingest import _progress_for
from hotline_kpi.cli.render import render_scoreboard
from hotline_kpi.problems import IngestRejected
from hotline_kpi.store import migrate
from hotline_kpi.store.db import read_session


@click.command()
@click.option("--year", type=int, default=2019, show_default=True, help="Year of the simulated data.")
@click.option("--seed", type=int, default=12345, show_default=True,
              help="Seed of the simulation: the same seed gives the same data.")
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
        raise Failure(_("no target catalogue for {hotline} in {year}", hotline=app.hotline_name(hid, with_id=True), year=year))
    migrate.upgrade(app.engine)
    folder = app.settings.var_dir / "demo" / str(year)
    err = _console(err=True)
    report_months, raw_months = range(1, raw_from), range(raw_from, 13)
    err.print(_("demo: step 1/3: writing the office's daily reports and the spending ledger ..."), soft_wrap=True)
    files: list[tuple[str, Path]] = [
        ("daily-report", p) for p in write_daily_reports(folder / "daily-report", year, seed, report_months)]
    files.append(("spending", write_spending_ledger(folder, year, seed)))
    if raw_months:
        months = f"{year}-{raw_from:02d}" if raw_from == 12 else f"{year}-{raw_from:02d} – {year}-12"
        err.print(_("demo: step 2/3: generating the call platform, ticket and callback exports of {months} ...",
                    months=months), soft_wrap=True)
        files += write_demo_sources(folder / "systems", year, seed, scale=1.0, months=raw_months)
    loaded = 0
    for i, (source, path) in enumerate(files, 1):
        err.print(_("demo: step 3/3: loading file {i} of {n}: {file}", i=i, n=len(files), file=path.name),
                  soft_wrap=True, markup=False)
        try:
            for progress in _progress_for(path):
                outcome = ingest_file(app.engine, path, settings=app.settings, catalogues=app.catalogues,
                                      clock=app.clock, hotline_id=hid, source=source, progress=progress)
        except IngestRejected as exc:  # a bug in the generator: show it whole
            raise Failure(str(exc)) from None
        loaded += outcome.status == "loaded"
    def span(months: range) -> str:
        return (_("month {m}", m=months[0]) if len(months) == 1
                else _("months {first}-{last}", first=months[0], last=months[-1]))

    parts = []
    if report_months:
        parts.append(_("{span} from the office's daily reports", span=span(report_months)))
    if raw_months:
        parts.append(_("{span} from the call platform's queue_log and the ticket and callback exports",
                       span=span(raw_months)))
    parts.append(_("the project's spending ledger"))
    err.print(_("demo: {year} for {hotline}: {parts} ({n} files in {folder}, {loaded} newly loaded) into {url}",
                year=year, hotline=hid, parts=_("; ").join(parts), n=len(files), folder=folder, loaded=loaded,
                url=app.engine.url.render_as_string(hide_password=True)), soft_wrap=True, markup=False)
    with read_session(app.engine) as session:
        sb = load_scoreboard(session, app.catalogues, app.settings.formulas, hid, dt.date(year, 12, 31))
    _console().print(render_scoreboard(sb, app))
