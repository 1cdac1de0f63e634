"""``hotline-kpi evaluate``: every indicator over its windows, as tables or JSON."""

from __future__ import annotations

import json

import click

from hotline_kpi.i18n import _
from hotline_kpi.cli.app import DATE, App, Failure, _console, _date, pass_app
from hotline_kpi.cli.render import budget_line, render_projections, render_scoreboard
from hotline_kpi.store.db import read_session


@click.command()
@click.option("--hotline", "hotline_id", default=None, help="Hotline id.")
@click.option("--as-of", "as_of", default=None, type=DATE, metavar="DATE", help="Evaluate as of this local date (default: the last day with "
              "data, not after yesterday).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              help="Output: tables to read, or JSON for programs.")
@pass_app
def evaluate(app: App, hotline_id: str | None, as_of: str | None, fmt: str) -> None:
    """Evaluate every indicator over day, 7/30 days, month, quarter and year to date."""
    from hotline_kpi.evaluation import default_as_of, load_evaluation

    hid = app.hotline_id(hotline_id)
    app.require_schema()
    with read_session(app.engine) as session:
        day = _date(as_of) or default_as_of(session, hid, app.today(hid))
        if app.catalogues.get(hid, day.year) is None:
            years = ", ".join(map(str, app.catalogues.years(hid)))
            raise Failure(_("no target catalogue for {hotline} in {year} (catalogue years: {known}); pass --as-of",
                            hotline=app.hotline_name(hid, with_id=True), year=day.year, known=years))
        ev = load_evaluation(session, app.catalogues, app.settings.formulas, hid, day)
    if fmt == "json":
        click.echo(json.dumps(ev.to_json(), ensure_ascii=False, indent=2, allow_nan=False))
    else:
        _console().print(render_scoreboard(ev.scoreboard, app))
        _console().print(render_projections(ev.projections, app, ev.scoreboard))
        if ev.budget is not None:
            _console().print(budget_line(ev.budget, ev.scoreboard.as_of, app.lang), soft_wrap=True)
