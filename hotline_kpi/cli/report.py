"""``hotline-kpi report``: the year-end performance self-evaluation and its input file."""

from __future__ import annotations

from pathlib import Path

import click

from hotline_kpi.i18n import _
from hotline_kpi.cli.app import App, Failure, pass_app
from hotline_kpi.store.db import read_session


@click.group(invoke_without_command=True)
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
        raise Failure(_("no target catalogue for {hotline} in {year}", hotline=hid, year=year))
    if inputs_file is not None and not inputs_file.is_file():
        raise Failure(_("{file}: input file not found (write one with `hotline-kpi report template`)", file=inputs_file))
    app.require_schema()
    try:
        with read_session(app.engine) as session:
            rep = load_for(app.settings, app.catalogues, session, hid, year, inputs_file)
        files = write_report(rep, [f.strip() for f in fmt.split(",") if f.strip()], out_dir)
    except (InputsError, ValueError) as exc:
        raise Failure(str(exc)) from None
    click.echo(_("total {total:.2f} ({grade}); budget execution {rate} -> {score:.2f}/{weight:g}",
                 total=rep.total.total, grade=rep.total.grade,
                 rate="—" if rep.execution.rate is None else f"{100 * rep.execution.rate:.2f}%",
                 score=rep.budget_score, weight=rep.budget_weight))
    for path in files:
        click.echo(_("wrote {file}", file=path))


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
        raise Failure(_("no target catalogue for {hotline} in {year}", hotline=hid, year=year))
    path = output or inputs_path(app.settings, hid, year)
    if path.exists() and not force:
        raise Failure(_("{file} exists; pass --force to overwrite it", file=path))
    app.require_schema()
    with read_session(app.engine) as session:
        rep = load_for(app.settings, app.catalogues, session, hid, year, inputs_file=Path("/nonexistent"))
    head = ("# 绩效自评输入文件 (docs/report.md): the office edits it, `hotline-kpi report` reads it.\n"
            "# band: A (100-80%), B (80-60%), C (60-0%) of the weight; percent: optional, within the band.\n"
            "# applicable: false drops an indicator (the total is rescaled to 100).\n"
            "# explanation: replaces the system's draft of 偏差原因分析及改进措施.\n")
    body = yaml.safe_dump(template_inputs(rep), allow_unicode=True, sort_keys=False, width=100)
    write_atomic(path, (head + body).encode("utf-8"))
    click.echo(_("wrote {file}", file=path))
