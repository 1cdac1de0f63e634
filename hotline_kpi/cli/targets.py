"""``hotline-kpi targets``: show and check target catalogues."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from hotline_kpi.i18n import _, t
from hotline_kpi.catalogue import CatalogueError, load_catalogue
from hotline_kpi.cli.app import App, Failure, _console, pass_app


@click.group()
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
        raise Failure(_("no target catalogue for {hotline} in {year} (catalogue years: {known})", hotline=hid,
                        year=year, known=", ".join(map(str, years))))
    lang = app.lang
    table = Table(title=f"{cat.hotline.name if lang == 'zh' else cat.hotline.name_en} {cat.year} "
                        f"({cat.source_path})")
    for col in ("id", "一级指标" if lang == "zh" else "level 1", "二级指标" if lang == "zh" else "level 2",
                "三级指标" if lang == "zh" else "indicator", "指标目标值" if lang == "zh" else "target text",
                _("machine target"), "分值" if lang == "zh" else "weight"):
        table.add_column(col)
    for ind in cat.indicators:
        machine = (f"{ind.comparator.value} {ind.threshold:g} {ind.unit}" if ind.comparator and ind.threshold is not None
                   else (_("qualitative") if ind.kind == "qualitative" else t("tracked")))
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
    click.echo(_("{file}: ok — {hotline} {year}, {n} indicators ({quantitative} quantitative)", file=file,
                 hotline=cat.hotline.id, year=cat.year, n=len(cat.indicators), quantitative=len(cat.quantitative)))
