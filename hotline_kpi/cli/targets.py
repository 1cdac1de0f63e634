"""``hotline-kpi targets``: show and check target catalogues."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from hotline_kpi.formatting import fmt_target
from hotline_kpi.i18n import _, q, t
from hotline_kpi.catalogue import CatalogueError, load_catalogue
from hotline_kpi.cli.app import App, Failure, _console, pass_app


@click.group()
def targets() -> None:
    """Target catalogues."""


@targets.command("show")
@click.option("--hotline", "hotline_id", default=None, help="Hotline id (default: the default_hotline setting).")
@click.option("--year", type=int, default=None, help="Catalogue year (default: the latest).")
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
                _("indicator (level 3)"), "指标目标值" if lang == "zh" else "target text",
                _("machine target"), "分值" if lang == "zh" else "weight"):
        table.add_column(col)
    notes = []
    for ind in cat.indicators:
        machine = (fmt_target(ind, lang) if ind.comparator and ind.threshold is not None
                   else (_("qualitative") if ind.kind == "qualitative" else t("tracked")))
        name = (ind.name_zh or ind.level3) if lang == "zh" else ind.name_en
        if ind.name_zh and ind.name_zh != ind.level3:  # the seed's typo (回民): the display name, the text noted
            name += "※"
            notes.append(_("※ {id}: the catalogue's level-3 text reads {verbatim} (sic); shown by its display name "
                           "{name}", id=ind.id, verbatim=q(ind.level3), name=q(ind.name_zh)))
        table.add_row(ind.id, ind.level1, ind.level2, name, ind.target_text,
                      machine, f"{ind.weight:g}" if not ind.tracked_only else "—")
    if notes:
        table.caption = "\n".join(notes)
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
