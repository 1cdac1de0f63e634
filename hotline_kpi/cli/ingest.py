"""``hotline-kpi ingest``: load files, then evaluate the hotline as the inbox of ``serve`` does."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterator

import click
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from hotline_kpi.files import os_reason
from hotline_kpi.i18n import M_, _, localize, source_label
from hotline_kpi.cli.app import App, Failure, _console, pass_app
from hotline_kpi.problems import IngestRejected
from hotline_kpi.ingest.registry import UnknownSource, ingestors

#: Files at least this big get a progress bar while they are read.
PROGRESS_BYTES = 1 << 20


def _progress_for(path: Path) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar for big files (yielded as a callback), nothing for small ones."""
    if path.stat().st_size < PROGRESS_BYTES or not sys.stderr.isatty():
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                  console=_console(err=True), transient=True) as bar:
        task = bar.add_task(path.name, total=path.stat().st_size)
        storing = _("{file}: storing", file=path.name)

        def update(done: int, total: int) -> None:
            # once read, the file is stored (a year's queue_log: a second or two): said, not a still bar
            bar.update(task, completed=done, total=total, **({"description": storing} if done >= total else {}))

        update.bar = bar  # type: ignore[attr-defined]  (for the tests)
        yield update


@click.command()
@click.option("--source", type=click.Choice(sorted(ingestors())), default=None,
              help="The system that produced the files (default: recognised by content, the name only a hint).")
@click.option("--hotline", "hotline_id", default=None, help="Hotline id (default: the default_hotline setting).")
@click.option("--sheet", default=None, metavar="NAME",
              help="The sheet of a workbook to read (default: the one visible sheet with a recognised header; "
                     "several such sheets are an error naming them).")
@click.option("--evaluate/--no-evaluate", "evaluate_after", default=True, show_default=True,
              help="After loading, evaluate the hotline and store the snapshot that a running `serve` "
                     "shows (and judge the alert rules against it).")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@pass_app
def ingest(app: App, source: str | None, sheet: str | None, hotline_id: str | None, evaluate_after: bool,
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
                                      clock=app.clock, hotline_id=hid, source=source, progress=progress,
                                      sheet=sheet)
        except IngestRejected as exc:
            rejected += 1
            err.print("[red]✗[/red] " + escape(str(exc)), markup=True, highlight=False, soft_wrap=True)
            continue
        except (UnknownSource, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            rejected += 1
            if isinstance(exc, OSError) and exc.filename not in (None, str(path)):  # the state folder, not the file
                err.print("[red]✗[/red] " + escape(_("{file}: its original could not be kept ({error}); nothing of "
                                                      "it was stored", file=path.name, error=_os_error(exc))),
                          soft_wrap=True)
            else:
                err.print("[red]✗[/red] " + escape(_os_error(exc)), soft_wrap=True)
            continue
        except OSError as exc:  # var_dir unwritable, not a folder, full: the original cannot be kept
            rejected += 1
            err.print("[red]✗[/red] " + escape(_("{file}: its original could not be kept ({error}); nothing of it "
                                                  "was stored", file=path.name, error=_os_error(exc))), soft_wrap=True)
            continue
        r = outcome.result
        if r.status == "already_loaded":
            out.print(_("= {file}: already loaded (ingest #{id}, {source}); nothing changed", file=path.name,
                        id=r.ingest_id, source=source_label(outcome.source)), soft_wrap=True, markup=False)
        else:
            changed += 1
            span = f"{r.first_day} – {r.last_day}" if r.first_day else _("no days")
            out.print("[green]✓[/green] " + escape(_(
                "{file}: {source}, {span}: {new} new, {revised} revised, {unchanged} unchanged day(s) (ingest #{id})",
                file=path.name, source=source_label(outcome.source), span=span, new=r.days_new, revised=r.days_revised,
                unchanged=r.days_unchanged, id=r.ingest_id)), soft_wrap=True)
        for note in outcome.notes:
            out.print(_("    note: {note}", note=localize(note)), soft_wrap=True, markup=False)
    if changed and evaluate_after:
        _evaluate_after_ingest(app, hid)
    if rejected:
        raise Failure(_("{rejected} of {n} file(s) rejected; nothing of them was stored", rejected=rejected,
                        n=len(files)))


def _os_error(exc: Exception) -> str:
    """A file that cannot be read, in the office's language (the OS's own text is English)."""
    if isinstance(exc, OSError) and not isinstance(exc.args[0] if exc.args else None, str):
        return str(os_reason(exc))
    return str(exc)


def _evaluate_after_ingest(app: App, hotline_id: str) -> None:
    """Evaluate ``hotline_id`` and store its snapshot (with the alert rules judged), as the
    inbox does after a load. The load has committed already: a failure here is reported,
    and the next evaluation of `serve` (scheduled, or after its next load) catches up."""
    from sqlalchemy.exc import SQLAlchemyError

    from hotline_kpi.alerts.rules import RulesError
    from hotline_kpi.alerts.alerting import Alerting
    from hotline_kpi.service.jobs import evaluate_hotlines

    err = _console(err=True)
    try:
        alerting = Alerting.from_settings(app.settings, app.catalogues, app.engine, app.clock)
    except RulesError as exc:
        alerting = None
        err.print(_("alert rules not judged: {error}", error=str(exc)), soft_wrap=True, markup=False)
    try:
        done = evaluate_hotlines(app.engine, app.settings, app.catalogues, app.clock, "ingest", [hotline_id],
                                 alerting=alerting)
    except SQLAlchemyError as exc:
        err.print(_("loaded, but the evaluation failed ({error}); `serve` evaluates at its next scheduled run",
                    error=type(exc).__name__), soft_wrap=True, markup=False)
        return
    if done:
        err.print(_("evaluated {hotline}: a running `serve` shows the new figures at its next metrics refresh",
                    hotline=app.hotline_name(hotline_id)), soft_wrap=True, markup=False)
