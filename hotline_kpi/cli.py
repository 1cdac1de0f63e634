"""The command line: the edge where settings, engine, catalogues and the clock are built."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import signal
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterator

import click
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import Engine

from hotline_kpi import __version__
from hotline_kpi.catalogue import CatalogueError, CatalogueSet, load_catalogue
from hotline_kpi.clock import Clock, SystemClock, local_today
from hotline_kpi.domain import COUNTERS, Status, Window
from hotline_kpi.evaluate import Scoreboard, WindowResult
from hotline_kpi.formatting import fmt_target, fmt_value
from hotline_kpi.i18n import Lang, t
from hotline_kpi.ingest.base import IngestRejected
from hotline_kpi.ingest.registry import UnknownSource, ingestors
from hotline_kpi.settings import Settings, load_settings
from hotline_kpi.store import migrate, repo
from hotline_kpi.store.db import make_engine, read_session

#: Files at least this big get a progress bar while they are read.
PROGRESS_BYTES = 1 << 20


class Failure(click.ClickException):
    """An error the user can act on: printed without a traceback, exit status 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@dataclass
class App:
    config_file: str | None = None
    lang_override: str | None = None
    clock: Clock = field(default_factory=SystemClock)

    @cached_property
    def settings(self) -> Settings:
        if self.config_file:
            os.environ["HOTLINE_KPI_CONFIG_FILE"] = self.config_file
        try:
            return load_settings()
        except ValidationError as exc:
            lines = [f"HOTLINE_KPI_{'__'.join(str(p).upper() for p in e['loc'])}: {e['msg']}"
                     + _shown_input(e) for e in exc.errors()]
            raise Failure("invalid settings:\n  " + "\n  ".join(lines)) from None
        except (FileNotFoundError, ValueError) as exc:
            raise Failure(f"invalid settings: {exc}") from None

    @property
    def lang(self) -> Lang:
        return (self.lang_override or self.settings.language)  # type: ignore[return-value]

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url, busy_timeout_seconds=self.settings.sqlite_busy_timeout_seconds)

    @cached_property
    def catalogues(self) -> CatalogueSet:
        try:
            return CatalogueSet.from_dir(self.settings.targets_dir)
        except CatalogueError as exc:
            raise Failure(str(exc)) from None

    def hotline_id(self, given: str | None) -> str:
        hid = given or self.settings.default_hotline
        try:
            self.catalogues.hotline(hid)
        except KeyError as exc:
            raise Failure(exc.args[0]) from None
        return hid

    def require_schema(self) -> None:
        try:
            migrate.require_current(self.engine)
        except migrate.SchemaNotCurrent as exc:
            raise Failure(str(exc)) from None

    def today(self, hotline_id: str) -> dt.date:
        return local_today(self.clock, self.catalogues.hotline(hotline_id).zone)


def _console(err: bool = False) -> Console:
    stream = sys.stderr if err else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else 160, highlight=False)


pass_app = click.make_pass_decorator(App)


def _shown_input(error: Any) -> str:
    """The rejected value of a settings error, unless it may hold a secret: a whole group
    (a model validator's input is every field of it) or a password or token field."""
    value = error.get("input")
    if isinstance(value, (dict, list, tuple)) or any(
            str(p).lower() in ("password", "token") for p in error.get("loc", ())):
        return ""
    return f" (value {value!r})"


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_file", type=click.Path(dir_okay=False), envvar="HOTLINE_KPI_CONFIG_FILE",
              help="Settings file (TOML). Default: ./hotline-kpi.toml when present.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None, help="Language of the output.")
@click.version_option(__version__, prog_name="hotline-kpi")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, lang: str | None) -> None:
    """hotline-kpi: KPI monitoring for government service hotlines."""
    if ctx.obj is None:
        ctx.obj = App()
    # Tests pass an App carrying a fixed clock; the options still apply to it.
    ctx.obj.config_file = config_file or ctx.obj.config_file
    ctx.obj.lang_override = lang or ctx.obj.lang_override


# --- db ---------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@pass_app
def db_upgrade(app: App) -> None:
    """Create or upgrade the schema to the current version."""
    migrate.upgrade(app.engine)
    click.echo(f"database {app.engine.url.render_as_string(hide_password=True)} at revision "
               f"{migrate.current_revision(app.engine)}")


@db.command("current")
@pass_app
def db_current(app: App) -> None:
    """Show the schema revision of the database."""
    click.echo(migrate.current_revision(app.engine) or "no schema (run `hotline-kpi db upgrade`)")


# --- ingest -------------------------------------------------------------------------------


def _progress_for(path: Path) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar for big files (yielded as a callback), nothing for small ones."""
    if path.stat().st_size < PROGRESS_BYTES or not sys.stderr.isatty():
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                  console=_console(err=True), transient=True) as bar:
        task = bar.add_task(path.name, total=path.stat().st_size)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@cli.command()
@click.option("--source", type=click.Choice(sorted(ingestors())), default=None,
              help="The system that produced the files (default: recognised from name and content).")
@click.option("--hotline", "hotline_id", default=None, help="Hotline id (default: the default_hotline setting).")
@click.option("--evaluate/--no-evaluate", "evaluate_after", default=True, show_default=True,
              help="After loading, evaluate the hotline and store the snapshot that a running `serve` "
                   "shows (and judge the alert rules against it).")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@pass_app
def ingest(app: App, source: str | None, hotline_id: str | None, evaluate_after: bool,
           files: tuple[Path, ...]) -> None:
    """Load files. Each file loads whole or not at all; exit status 1 if any was rejected.

    When something new was loaded, the hotline is then evaluated once, as the inbox of
    `serve` does: the status page, /metrics and the alerts follow without waiting for the
    next scheduled evaluation.
    """
    from hotline_kpi.ingest.pipeline import ingest_file

    hid = app.hotline_id(hotline_id)
    app.require_schema()
    out, err = _console(), _console(err=True)
    rejected = 0
    changed = 0
    for path in files:
        try:
            for progress in _progress_for(path) if path.is_file() else iter([None]):
                outcome = ingest_file(app.engine, path, settings=app.settings, catalogues=app.catalogues,
                                      clock=app.clock, hotline_id=hid, source=source, progress=progress)
        except IngestRejected as exc:
            rejected += 1
            err.print(f"[red]✗[/red] {exc}", markup=True, highlight=False, soft_wrap=True)
            continue
        except (UnknownSource, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            rejected += 1
            err.print(f"[red]✗[/red] {exc}", soft_wrap=True)
            continue
        r = outcome.result
        if r.status == "already_loaded":
            out.print(f"= {path.name}: already loaded (ingest #{r.ingest_id}, {outcome.source}); nothing changed",
                      soft_wrap=True)
        else:
            changed += 1
            span = f"{r.first_day} – {r.last_day}" if r.first_day else "no days"
            out.print(f"[green]✓[/green] {path.name}: {outcome.source}, {span}: {r.days_new} new, "
                      f"{r.days_revised} revised, {r.days_unchanged} unchanged day(s) (ingest #{r.ingest_id})",
                      soft_wrap=True)
        for note in outcome.notes:
            out.print(f"    note: {note}", soft_wrap=True)
    if changed and evaluate_after:
        _evaluate_after_ingest(app, hid)
    if rejected:
        raise Failure(f"{rejected} of {len(files)} file(s) rejected; nothing of them was stored")


def _evaluate_after_ingest(app: App, hotline_id: str) -> None:
    """Evaluate ``hotline_id`` and store its snapshot (with the alert rules judged), as the
    inbox does after a load. The load has committed already: a failure here is reported,
    and the next evaluation of `serve` (scheduled, or after its next load) catches up."""
    from sqlalchemy.exc import SQLAlchemyError

    from hotline_kpi.alerts.rules import RulesError
    from hotline_kpi.alerts.service import Alerting
    from hotline_kpi.service.evaluation import evaluate_hotlines

    err = _console(err=True)
    try:
        alerting = Alerting.from_settings(app.settings, app.catalogues, app.engine, app.clock)
    except RulesError as exc:
        alerting = None
        err.print(f"alert rules not judged: {exc}", soft_wrap=True)
    try:
        done = evaluate_hotlines(app.engine, app.settings, app.catalogues, app.clock, "ingest", [hotline_id],
                                 alerting=alerting)
    except SQLAlchemyError as exc:
        err.print(f"loaded, but the evaluation failed ({type(exc).__name__}); `serve` evaluates at its next "
                  f"scheduled run", soft_wrap=True)
        return
    if done:
        err.print(f"evaluated {hotline_id}: a running `serve` shows the new figures at its next metrics refresh",
                  soft_wrap=True)


# --- evaluate -----------------------------------------------------------------------------


_STATUS_STYLE = {Status.MET: "green", Status.BREACHED: "bold red", Status.NO_DATA: "yellow", Status.TRACKED: "dim"}
_TABLE_WINDOWS = (Window.DAY, Window.TRAILING_30D, Window.MONTH_TO_DATE, Window.QUARTER_TO_DATE, Window.YEAR_TO_DATE)


def render_scoreboard(sb: Scoreboard, app: App) -> Table:
    lang = app.lang
    cat = app.catalogues.for_year(sb.hotline_id, sb.as_of.year)
    hotline = cat.hotline
    title = t("scoreboard_title", lang, hotline=hotline.name if lang == "zh" else hotline.name_en, as_of=sb.as_of)
    comp = sb.completeness
    caption = (f"{t('data_date', lang)}: {sb.data_date or '—'} · {t('completeness', lang)}: "
               f"{comp.days_with_data}/{comp.days_elapsed} ({100 * comp.ratio:.1f}%)")
    table = Table(title=title, caption=caption)
    table.add_column(t("indicator", lang))
    table.add_column(t("target", lang))
    for w in _TABLE_WINDOWS:
        table.add_column(t(w.value, lang), justify="right")
    table.add_column(t("status", lang) + f" ({t('year_to_date', lang)})")
    by_key = {(r.indicator_id, r.window): r for r in sb.results}
    for ind in cat.quantitative:
        ytd: WindowResult = by_key[(ind.id, Window.YEAR_TO_DATE)]
        name = ind.level3 if lang == "zh" else ind.name_en
        target = fmt_target(ind, lang)
        cells = [fmt_value(by_key[(ind.id, w)].value, ind.unit, lang) for w in _TABLE_WINDOWS]
        status = f"[{_STATUS_STYLE[ytd.status]}]{t(ytd.status.value, lang)}[/]"
        if ytd.pace is not None and ytd.value is not None:
            status += f" ({t('pace', lang)} {ytd.pace:,.0f}"
            status += f", {t('shortfall', lang)} {ytd.shortfall:,.0f})" if ytd.shortfall else ")"
        table.add_row(name, target, *cells, status)
    return table


def budget_line(e, as_of: dt.date, lang: Lang) -> str:  # noqa: ANN001 - report.build.Execution
    """Budget execution to the as-of month in one line (figures in 万元, as the office reports them)."""
    rate = "—" if e.rate is None else f"{100 * e.rate:.2f}%"
    cost = "—" if e.cost_per_request is None else f"{e.cost_per_request:.2f}"
    wan = lambda yuan: f"{yuan / 10_000:,.2f}"  # noqa: E731
    if lang == "zh":
        return (f"预算执行（截至{as_of.month}月）: 执行率 {rate}，已执行 {wan(e.executed_yuan)} 万元 / 全年预算 "
                f"{wan(e.budget_yuan)} 万元（均衡进度 {wan(e.even_pace_yuan(as_of.month))} 万元）；每件受理成本 {cost} 元")
    return (f"Budget execution (to month {as_of.month}): {rate}, spent {wan(e.executed_yuan)} of "
            f"{wan(e.budget_yuan)} 10k yuan (even pace {wan(e.even_pace_yuan(as_of.month))}); cost per request {cost} yuan")


_PACE_STYLE = {"on_track": "green", "secured": "bold green", "at_risk": "bold red", "cannot_be_met": "bold red",
               "insufficient_data": "yellow"}


def render_projections(projections, app: App, sb: Scoreboard) -> Table:  # noqa: ANN001
    lang = app.lang
    cat = app.catalogues.for_year(sb.hotline_id, sb.as_of.year)
    table = Table(title=t("projection_title", lang, year=sb.as_of.year))
    for key in ("indicator", "target", "projected", "interval", "pace_status", "required", "budget", "burn_7d",
                "burn_30d"):
        table.add_column(t(key, lang), justify="left" if key in ("indicator", "target", "pace_status") else "right")
    notes: dict[str, list[str]] = {}
    for p in projections:
        ind = cat.indicator(p.indicator_id)
        interval = ("—" if p.interval_low is None else
                    f"{fmt_value(p.interval_low, ind.unit, lang)} – {fmt_value(p.interval_high, ind.unit, lang)}")
        pace = f"[{_PACE_STYLE.get(p.pace_status.value, '')}]{t(p.pace_status.value, lang)}[/]"
        required = "—" if p.required_value is None else (
            f"{p.required_value:,.0f}{t('per_day', lang)}" if p.required_unit == "requests_per_day"
            else fmt_value(p.required_value, ind.unit, lang))
        budget = "—" if p.budget_remaining is None else f"{p.budget_remaining:,.0f} {t('unit_' + p.budget_unit, lang)}"
        burn = ["—" if b is None else f"{b:.2f}" for b in (p.burn_rate_7d, p.burn_rate_30d)]
        table.add_row(ind.level3 if lang == "zh" else ind.name_en, fmt_target(ind, lang),
                      fmt_value(p.projected_value, ind.unit, lang), interval, pace, required, budget, *burn)
        note = p.note_zh if lang == "zh" else p.note_en
        if note:
            notes.setdefault(note, []).append(ind.level3 if lang == "zh" else ind.name_en)
    lines = [note if len(names) == len(projections) else f"{'、'.join(names)}: {note}"
             for note, names in notes.items()]
    if lines:
        table.caption = "\n".join(lines)
    return table


@cli.command()
@click.option("--hotline", "hotline_id", default=None, help="Hotline id.")
@click.option("--as-of", "as_of", default=None, help="Evaluate as of this local date (default: the last day with "
              "data, not after yesterday).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
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
            raise Failure(f"no target catalogue for {hid} in {day.year} (catalogue years: {years}); pass --as-of")
        ev = load_evaluation(session, app.catalogues, app.settings.formulas, hid, day)
    if fmt == "json":
        click.echo(json.dumps(ev.to_json(), ensure_ascii=False, indent=2, allow_nan=False))
    else:
        _console().print(render_scoreboard(ev.scoreboard, app))
        _console().print(render_projections(ev.projections, app, ev.scoreboard))
        if ev.budget is not None:
            _console().print(budget_line(ev.budget, ev.scoreboard.as_of, app.lang), soft_wrap=True)


# --- report (issue #7) ----------------------------------------------------------------------


@cli.group(invoke_without_command=True)
@click.option("--year", type=int, default=None, help="Year of the self-evaluation (default: last year).")
@click.option("--hotline", "hotline_id", default=None, help="Hotline id.")
@click.option("--format", "fmt", default="xlsx,pdf,html,md", show_default=True,
              help="Comma-separated formats: xlsx, pdf, html, md.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder the files are written to.")
@click.option("--inputs", "inputs_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The office's input file (default: report.inputs_dir/<hotline>-<year>.yaml when present).")
@click.pass_context
def report(ctx: click.Context, year: int | None, hotline_id: str | None, fmt: str, out_dir: Path,
           inputs_file: Path | None) -> None:
    """Year-end project-expenditure performance self-evaluation (项目支出绩效自评), docs/report.md."""
    if ctx.invoked_subcommand is not None:
        return
    from hotline_kpi.report.build import InputsError
    from hotline_kpi.report.run import load_for
    from hotline_kpi.report.writer import write_report

    app: App = ctx.find_object(App)
    hid = app.hotline_id(hotline_id)
    year = year or app.today(hid).year - 1
    if app.catalogues.get(hid, year) is None:
        raise Failure(f"no target catalogue for {hid} in {year}")
    if inputs_file is not None and not inputs_file.is_file():
        raise Failure(f"{inputs_file}: input file not found (write one with `hotline-kpi report template`)")
    app.require_schema()
    try:
        with read_session(app.engine) as session:
            rep = load_for(app.settings, app.catalogues, session, hid, year, inputs_file)
        files = write_report(rep, [f.strip() for f in fmt.split(",") if f.strip()], out_dir)
    except (InputsError, ValueError) as exc:
        raise Failure(str(exc)) from None
    click.echo(f"total {rep.total.total:.2f} ({rep.total.grade}); budget execution "
               f"{'—' if rep.execution.rate is None else f'{100 * rep.execution.rate:.2f}%'} -> "
               f"{rep.budget_score:.2f}/{rep.budget_weight:g}")
    for path in files:
        click.echo(f"wrote {path}")


@report.command("template")
@click.option("--year", type=int, default=None, help="Year (default: last year).")
@click.option("--hotline", "hotline_id", default=None)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Default: report.inputs_dir/<hotline>-<year>.yaml.")
@click.option("--force", is_flag=True, help="Overwrite an existing input file.")
@pass_app
def report_template(app: App, year: int | None, hotline_id: str | None, output: Path | None, force: bool) -> None:
    """Write the input file the office edits: ratings, explanations, applicability, funding."""
    import yaml

    from hotline_kpi.files import write_atomic
    from hotline_kpi.report.build import template_inputs
    from hotline_kpi.report.run import inputs_path, load_for

    hid = app.hotline_id(hotline_id)
    year = year or app.today(hid).year - 1
    if app.catalogues.get(hid, year) is None:
        raise Failure(f"no target catalogue for {hid} in {year}")
    path = output or inputs_path(app.settings, hid, year)
    if path.exists() and not force:
        raise Failure(f"{path} exists; pass --force to overwrite it")
    app.require_schema()
    with read_session(app.engine) as session:
        rep = load_for(app.settings, app.catalogues, session, hid, year, inputs_file=Path("/nonexistent"))
    head = ("# 绩效自评输入文件 (docs/report.md): the office edits it, `hotline-kpi report` reads it.\n"
            "# band: A (100-80%), B (80-60%), C (60-0%) of the weight; percent: optional, within the band.\n"
            "# applicable: false drops an indicator (the total is rescaled to 100).\n"
            "# explanation: replaces the system's draft of 偏差原因分析及改进措施.\n")
    body = yaml.safe_dump(template_inputs(rep), allow_unicode=True, sort_keys=False, width=100)
    write_atomic(path, (head + body).encode("utf-8"))
    click.echo(f"wrote {path}")


# --- export -------------------------------------------------------------------------------


@cli.group()
def export() -> None:
    """Export stored data."""


def _daily_rows(app: App, hotline_id: str | None, start: str, end: str):  # noqa: ANN202
    """(hotline id, first, last, the stored daily rows) for an export's --from/--to."""
    hid = app.hotline_id(hotline_id)
    first, last = _date(start), _date(end)
    assert first is not None and last is not None
    if last < first:
        raise click.BadParameter(f"--to {last} is before --from {first}")
    app.require_schema()
    with read_session(app.engine) as session:
        return hid, first, last, repo.daily_counters(session, hid, first, last)


@export.command("daily")
@click.option("--hotline", "hotline_id", default=None)
@click.option("--from", "start", required=True, help="First local date (YYYY-MM-DD).")
@click.option("--to", "end", required=True, help="Last local date (YYYY-MM-DD).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (atomically) instead of standard output.")
@pass_app
def export_daily(app: App, hotline_id: str | None, start: str, end: str, fmt: str, output: Path | None) -> None:
    """The canonical daily counters, one row a day; empty where unknown."""
    hid, first, last, stored = _daily_rows(app, hotline_id, start, end)
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
        w.writerow(["date", *COUNTERS])
        for d in days:
            vals = [num(rows[d].get(c)) if d in rows else None for c in COUNTERS]
            w.writerow([d.isoformat(), *["" if v is None else v for v in vals]])
        text = buf.getvalue()
    if output is None:
        click.echo(text, nl=False)
    else:
        from hotline_kpi.files import write_atomic

        write_atomic(output, text.encode("utf-8"))
        click.echo(f"wrote {len(days)} day(s) to {output}", err=True)


@export.command("openmetrics")
@click.option("--hotline", "hotline_id", default=None)
@click.option("--from", "start", required=True, help="First local date (YYYY-MM-DD).")
@click.option("--to", "end", required=True, help="Last local date (YYYY-MM-DD).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (atomically) instead of standard output.")
@pass_app
def export_openmetrics(app: App, hotline_id: str | None, start: str, end: str, output: Path | None) -> None:
    """The daily history as OpenMetrics with timestamps, for `promtool tsdb
    create-blocks-from openmetrics` (docs/history.md). Days of the last 3 hours are left out."""
    from hotline_kpi.backfill import HEAD_BLOCK, export_openmetrics as render_history

    hid, first, last, rows = _daily_rows(app, hotline_id, start, end)
    result = render_history(hid, app.catalogues.hotline(hid).zone, rows, lambda year: app.catalogues.get(hid, year),
                            app.settings.formulas, first, last, not_after=app.clock.now() - HEAD_BLOCK)
    err = _console(err=True)
    for year in result.years_without_catalogue:
        err.print(f"note: no target catalogue for {hid} in {year}: counters only for that year", soft_wrap=True)
    if result.days_too_recent:
        err.print(f"note: left out {len(result.days_too_recent)} day(s) from {result.days_too_recent[0]} on: "
                  f"younger than {HEAD_BLOCK.total_seconds() / 3600:g} h (Prometheus' head block)", soft_wrap=True)
    if output is None:
        click.echo(result.text, nl=False)
    else:
        from hotline_kpi.files import write_atomic

        write_atomic(output, result.text.encode("utf-8"))
        click.echo(f"wrote {result.samples} sample(s) to {output}", err=True)


# --- targets ------------------------------------------------------------------------------


@cli.group()
def targets() -> None:
    """Target catalogues."""


@targets.command("show")
@click.option("--hotline", "hotline_id", default=None)
@click.option("--year", type=int, default=None)
@pass_app
def targets_show(app: App, hotline_id: str | None, year: int | None) -> None:
    """Print a hotline's target catalogue."""
    hid = app.hotline_id(hotline_id)
    years = app.catalogues.years(hid)
    cat = app.catalogues.for_year(hid, year or years[-1]) if (year is None or year in years) else None
    if cat is None:
        raise Failure(f"no target catalogue for {hid} in {year} (years: {', '.join(map(str, years))})")
    lang = app.lang
    table = Table(title=f"{cat.hotline.name if lang == 'zh' else cat.hotline.name_en} {cat.year} "
                        f"({cat.source_path})")
    for col in ("id", "一级指标" if lang == "zh" else "level 1", "二级指标" if lang == "zh" else "level 2",
                "三级指标" if lang == "zh" else "indicator", "指标目标值" if lang == "zh" else "target text",
                "machine target" if lang == "en" else "判定", "分值" if lang == "zh" else "weight"):
        table.add_column(col)
    for ind in cat.indicators:
        machine = (f"{ind.comparator.value} {ind.threshold:g} {ind.unit}" if ind.comparator and ind.threshold is not None
                   else ("qualitative" if ind.kind == "qualitative" else "tracked"))
        table.add_row(ind.id, ind.level1, ind.level2, ind.level3 if lang == "zh" else ind.name_en, ind.target_text,
                      machine, f"{ind.weight:g}" if not ind.tracked_only else "—")
    _console().print(table)


@targets.command("check")
@click.argument("file", type=click.Path(path_type=Path))
def targets_check(file: Path) -> None:
    """Validate a catalogue file; exit status 1 with every problem if it is invalid."""
    try:
        cat = load_catalogue(file)
    except CatalogueError as exc:
        raise Failure(str(exc)) from None
    click.echo(f"{file}: ok — {cat.hotline.id} {cat.year}, {len(cat.indicators)} indicators "
               f"({len(cat.quantitative)} quantitative)")


# --- serve --------------------------------------------------------------------------------


def _uvicorn_server_class():  # noqa: ANN202 - imported lazily with uvicorn
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn re-raises a captured SIGTERM after it stops, which would kill the process
        before the scheduler stops and the lease is released; our own handlers (set in
        ``serve``) ask it to exit instead and the clean stop runs."""

        @contextlib.contextmanager
        def capture_signals(self):  # type: ignore[override]
            yield

    return Server


@cli.command()
@click.option("--host", default=None, help="Bind address (default: the service.host setting, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="HTTP port (default: the service.port setting, 9105).")
@click.option("--log-level", default="INFO", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]))
@pass_app
def serve(app: App, host: str | None, port: int | None, log_level: str) -> None:
    """Run the monitoring service: scheduler, inbox, /metrics, API and status page.

    Stops cleanly on SIGTERM or SIGINT (a running job finishes first).
    """
    import uvicorn

    from hotline_kpi.service import logs

    _Server = _uvicorn_server_class()
    from hotline_kpi.service.runtime import Service, on_ready_message
    from hotline_kpi.service.web import build_app

    settings = app.settings
    catalogues = app.catalogues
    app.require_schema()
    logs.configure(log_level)
    host = host or settings.service.host
    port = port or settings.service.port
    from hotline_kpi.alerts.rules import RulesError

    try:
        service = Service(settings, catalogues, app.engine, app.clock)
    except RulesError as exc:
        raise Failure(str(exc)) from None
    web = build_app(service.cache, settings, catalogues, app.clock.now, service.state)
    service.coordinate_once()  # lease, scheduler and a first metrics snapshot before the port opens
    service.start()
    server = _Server(uvicorn.Config(web, host=host, port=port, log_config=None, access_log=False,
                                    lifespan="off", timeout_graceful_shutdown=10))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: setattr(server, "should_exit", True))
    click.echo(on_ready_message(host, port)(), err=True)
    click.echo(f"inbox: {settings.inbox_dir.resolve()} (scanned every {settings.service.inbox_scan_seconds:g} s); "
               f"database: {app.engine.url.render_as_string(hide_password=True)}", err=True)
    try:
        server.run()
    finally:
        service.stop()
        app.engine.dispose()
    if not server.started:
        raise Failure(f"could not listen on {host}:{port} (in use?)")


# --- demo ---------------------------------------------------------------------------------


@cli.command()
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


# --- alerts -------------------------------------------------------------------------------


def _alerting(app: App):  # noqa: ANN202 - imported lazily with the alerts package
    from hotline_kpi.alerts.rules import RulesError
    from hotline_kpi.alerts.service import Alerting

    try:
        alerting = Alerting.from_settings(app.settings, app.catalogues, app.engine, app.clock)
    except RulesError as exc:
        raise Failure(str(exc)) from None
    if alerting is None:
        raise Failure(f"alerting is off: no rules file {app.settings.alerts.rules_file} (alerts.rules_file)")
    return alerting


def _local_time(at: dt.datetime | None, app: App) -> str:
    return "—" if at is None else at.astimezone(app.settings.zone).strftime("%Y-%m-%d %H:%M")


@cli.group()
def alerts() -> None:
    """Breach alerts: state, undelivered mail, test and resend (docs/alerts.md)."""


@alerts.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also list inactive alerts.")
@pass_app
def alerts_list(app: App, show_all: bool) -> None:
    """Alerts (state, since, last notified) and notifications not yet delivered."""
    from hotline_kpi.alerts import outbox

    app.require_schema()
    with read_session(app.engine) as s:
        views = outbox.list_alerts(s)
        owed = outbox.owed_notifications(s)
        failures = outbox.recent_failures(s, limit=10)
    out = _console()
    smtp = app.settings.smtp
    out.print(f"SMTP: {f'{smtp.host}:{smtp.effective_port} ({smtp.security})' if smtp.host else 'not configured (smtp.host)'}"
              f" · rules: {app.settings.alerts.rules_file}", soft_wrap=True)
    table = Table(title="alerts")
    for col in ("id", "hotline", "rule", "severity", "state", "days held", "since", "last notified", "summary"):
        table.add_column(col)
    style = {"firing": "bold red", "pending": "yellow", "inactive": "dim"}
    shown = [v for v in views if show_all or v.state != "inactive"]
    for v in shown:
        table.add_row(str(v.id), v.hotline_id, v.rule_id, v.severity, f"[{style.get(v.state, '')}]{v.state}[/]",
                      str(v.held_days), _local_time(v.since, app), _local_time(v.last_notified_at, app),
                      outbox.summary(app.catalogues, v.hotline_id, v.figures, app.lang))
    out.print(table)
    if len(shown) < len(views):
        out.print(f"{len(views) - len(shown)} inactive alert(s) not shown (--all)")
    if owed:
        pending = Table(title="undelivered notifications")
        for col in ("event", "kind", "alert", "written", "attempts", "next attempt", "gives up", "waiting for",
                    "last error"):
            pending.add_column(col)
        for o in owed:
            pending.add_row(str(o.event_id), o.kind, str(o.alert_id or "—"), _local_time(o.at, app), str(o.attempts),
                            _local_time(o.next_attempt_at, app), _local_time(o.deliver_by, app), ", ".join(o.remaining),
                            o.last_error[:120])
        out.print(pending)
    else:
        out.print("no undelivered notifications")
    if failures:
        failed = Table(title="recent delivery failures (not retried)")
        for col in ("event", "recipient", "at", "outcome", "error"):
            failed.add_column(col)
        for d in failures:
            failed.add_row(str(d.event_id), d.recipient, _local_time(outbox.aware(d.at), app), d.outcome,
                           (d.error or "")[:160])
        out.print(failed)


@alerts.command("test-email")
@click.option("--to", "to", multiple=True, required=True, help="Recipient (repeatable).")
@pass_app
def alerts_test_email(app: App, to: tuple[str, ...]) -> None:
    """Send a test mail now, straight through the SMTP settings; exit status 1 if any
    recipient did not get it."""
    from email.utils import make_msgid

    from hotline_kpi.alerts.content import render_test
    from hotline_kpi.alerts.rules import check_address
    from hotline_kpi.alerts.smtp import SmtpTransport, build_message

    smtp = app.settings.smtp
    if not smtp.host:
        raise Failure("SMTP is not configured: set smtp.host (HOTLINE_KPI_SMTP__HOST)")
    try:
        recipients = [check_address(a) for a in to]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from None
    now = app.clock.now()
    hotline = app.catalogues.hotline(app.settings.default_hotline) if app.catalogues.hotlines() else None
    content = render_test(lang=app.lang, label=hotline.label if hotline else "hotline", at=now,
                          zone=app.settings.zone)
    domain = smtp.from_address.rpartition("@")[2]
    msg = build_message(subject=content.subject, text=content.text, html=content.html, sender=smtp.from_address,
                        to=recipients, message_id=make_msgid("hotline-kpi.test", domain=domain), date=now)
    transport = SmtpTransport(smtp)
    results = transport.send(msg, smtp.from_address, recipients)
    for r in results:
        click.echo(f"{r.recipient}: {r.outcome}" + (f" ({r.error})" if r.error else ""))
    if any(r.outcome != "sent" for r in results):
        raise Failure(f"not delivered to every recipient via {transport.describe()}")


@alerts.command("resend")
@click.argument("event_id", type=int)
@pass_app
def alerts_resend(app: App, event_id: int) -> None:
    """Queue a notification again (an event id from `alerts list`), with a new Message-ID."""
    from hotline_kpi.alerts.outbox import NotANotification

    app.require_schema()
    alerting = _alerting(app)
    try:
        new_id = alerting.resend(event_id)
    except NotANotification as exc:
        raise Failure(str(exc)) from None
    click.echo(f"event {event_id} queued again as event {new_id}; it goes out with the next delivery pass "
               f"(`hotline-kpi alerts dispatch` or the service)")


@alerts.command("dispatch")
@pass_app
def alerts_dispatch(app: App) -> None:
    """Run one delivery pass now: every notification due is claimed, sent and recorded."""
    app.require_schema()
    alerting = _alerting(app)
    if alerting.transport is None:
        raise Failure("SMTP is not configured: set smtp.host (HOTLINE_KPI_SMTP__HOST)")
    report = alerting.dispatch()
    click.echo(f"{report.processed} notification(s) processed: {report.sent} delivered, {report.transient} to "
               f"retry, {report.permanent} refused for good, {report.expired} given up")


def main() -> None:
    cli(prog_name="hotline-kpi")
