"""``hotline-kpi report``: the year-end performance self-evaluation and its input file."""

from __future__ import annotations

from pathlib import Path

import click

from hotline_kpi.i18n import _
from hotline_kpi.cli.app import App, Failure, pass_app
from hotline_kpi.store.db import read_session


def _year(app: App, hid: str, year: int | None) -> int:
    """The year asked for, else last year; a year without a catalogue names the years that have one."""
    asked = year or app.today(hid).year - 1
    if app.catalogues.get(hid, asked) is None:
        have = app.catalogues.years(hid)
        raise Failure(_("no target catalogue for {hotline} in {year}", hotline=app.hotline_name(hid, with_id=True), year=asked) + "\n"
                      + _("years with a catalogue: {years}; choose one with --year",
                          years=", ".join(map(str, have)) or "—"))
    return asked


@click.group(invoke_without_command=True)
@click.option("--year", type=int, default=None, help="Year of the self-evaluation (default: last year).")
@click.option("--hotline", "hotline_id", default=None, help="Hotline id.")
@click.option("--format", "fmt", default="docx,xlsx,pdf,html,md", show_default=True,
              help="Comma-separated formats: xlsx, pdf, html, md, docx.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder the files are written to.")
@click.option("--inputs", "inputs_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The office's input file (default: report.inputs_dir/<hotline>-<year>.yaml when present).")
@click.option("--final", is_flag=True,
              help="The report to submit: refused (exit 1) while any indicator is unrated.")
@click.pass_context
def report(ctx: click.Context, year: int | None, hotline_id: str | None, fmt: str, out_dir: Path,
           inputs_file: Path | None, final: bool) -> None:
    """Year-end project-expenditure performance self-evaluation (项目支出绩效自评)."""
    if ctx.invoked_subcommand is not None:
        return
    from hotline_kpi.report.build import InputsError
    from hotline_kpi.report.run import load_for
    from hotline_kpi.report.writer import write_report

    app: App = ctx.find_object(App)
    hid = app.hotline_id(hotline_id)
    year = _year(app, hid, year)
    if inputs_file is not None and not inputs_file.is_file():
        raise Failure(_("{file}: input file not found (write one with `hotline-kpi report template`)", file=inputs_file))
    app.require_schema()
    try:
        with read_session(app.engine) as session:
            rep = load_for(app.settings, app.catalogues, session, hid, year, inputs_file)
        if rep.data_days == 0:  # a report of nothing scores every indicator 0: not a report to file
            raise Failure(_("no figures of {hotline} for {year} in the store: nothing to report on; load the year's "
                            "files with `hotline-kpi ingest` first", hotline=app.hotline_name(hid, with_id=True), year=year))
        if final and rep.draft:
            from hotline_kpi.i18n import t

            items = "\n".join(f"  - {m.indicator}：{m.what}" if app.lang == "zh" else f"  - {m.indicator}: {m.what}"
                              for m in rep.to_do)
            raise Failure(t("report_not_final", app.lang, items=items))
        files = write_report(rep, [f.strip() for f in fmt.split(",") if f.strip()], out_dir)
    except (InputsError, ValueError) as exc:
        raise Failure(str(exc)) from None
    click.echo(_("total {total:.2f} ({grade}); budget execution {rate} -> {score:.2f}/{weight:g}",
                 total=rep.total.total, grade=rep.total.grade,
                 rate="—" if rep.execution.rate is None else f"{100 * rep.execution.rate:.2f}%",
                 score=rep.budget_score, weight=rep.budget_weight))
    if rep.draft:
        from hotline_kpi.i18n import t

        click.echo(t("report_draft_missing", app.lang, n=len(rep.to_do)))
    for path in files:
        click.echo(_("wrote {file}", file=path))


@report.command("template")
@click.option("--year", type=int, default=None, help="Year (default: last year).")
@click.option("--hotline", "hotline_id", default=None, help="Hotline id (default: the default_hotline setting).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Default: report.inputs_dir/<hotline>-<year>.yaml.")
@click.option("--force", is_flag=True, help="Overwrite an existing input file.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "xlsx"]), default=None,
              help="yaml (default) or xlsx (a workbook to fill); default: from the -o suffix.")
@pass_app
def report_template(app: App, year: int | None, hotline_id: str | None, output: Path | None, force: bool,
                    fmt: str | None) -> None:
    """Write the input file the office edits: ratings, explanations, applicability, funding."""
    import yaml

    from hotline_kpi.files import write_atomic
    from hotline_kpi.report.build import template_inputs
    from hotline_kpi.report.run import inputs_path, load_for

    hid = app.hotline_id(hotline_id)
    year = _year(app, hid, year)
    fmt = fmt or ("xlsx" if output is not None and output.suffix.lower() == ".xlsx" else "yaml")
    path = output or inputs_path(app.settings, hid, year)
    if fmt == "xlsx" and path.suffix.lower() != ".xlsx":
        path = path.with_suffix(".xlsx")
    if path.exists() and not force:
        raise Failure(_("{file} exists; pass --force to overwrite it", file=path))
    app.require_schema()
    with read_session(app.engine) as session:
        rep = load_for(app.settings, app.catalogues, session, hid, year, inputs_file=Path("/nonexistent"))
    if fmt == "xlsx":
        from hotline_kpi.report.build import RANKING_ID
        from hotline_kpi.report.inputs_xlsx import template_xlsx

        rows = [(r.indicator.id, r.indicator.display_name_zh, r.weight, r.indicator.kind == "qualitative"
                 and r.indicator.id != RANKING_ID) for r in rep.rows]
        tiers = [b.label or b.name for b in app.settings.report.scoring.qualitative_bands]
        write_atomic(path, template_xlsx(rows, tiers, year))
        click.echo(f"wrote {path}")
        return
    head = "".join(f"# {line}\n" for line in _(
        "The self-evaluation input file (绩效自评输入文件): the office edits it, `hotline-kpi report` reads it.\n"
        "Nothing is pre-filled: an indicator without band AND evidence scores 0 and the report is a draft.\n"
        "band: A/达成 (100-80%), B/部分达成 (80-60%), C/未达成 (60-0%) of the weight; percent: optional (70 or 70%).\n"
        "evidence: the material the rating rests on (佐证材料). ranking: the year's national rank, the number of\n"
        "hotlines ranked (of), its score and who published it (source); the 影响力目标 row is scored from it.\n"
        "applicable: false drops an indicator (the total is rescaled to 100).\n"
        "explanation: 偏差原因分析及改进措施, required for every indicator that loses points.").splitlines())
    names = {r.indicator.id: r.indicator.display_name_zh for r in rep.rows}
    body = "".join(f"  # {names[line.strip()[:-1]]}\n{line}\n" if line.startswith("  ") and not line.startswith("   ")
                   and line.strip()[:-1] in names and line.endswith(":") else line + "\n"
                   for line in yaml.safe_dump(template_inputs(rep), allow_unicode=True, sort_keys=False,
                                              width=100).splitlines())
    write_atomic(path, (head + body).encode("utf-8"))
    click.echo(_("wrote {file}", file=path))
