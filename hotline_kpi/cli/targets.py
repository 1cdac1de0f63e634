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
        raise Failure(_("no target catalogue for {hotline} in {year} (catalogue years: {known})",
                        hotline=app.hotline_name(hid, with_id=True),
                        year=year, known=", ".join(map(str, years))))
    lang = app.lang
    table = Table(title=_("{hotline} {year} ({file})", hotline=cat.hotline.display_name(lang), year=cat.year,
                          file=_catalogue_file(cat.source_path)))
    for col in (_("indicator"), "一级指标" if lang == "zh" else "level 1", "二级指标" if lang == "zh" else "level 2",
                "指标目标值" if lang == "zh" else "target text", _("machine target"),
                "分值" if lang == "zh" else "weight", _("id")):
        table.add_column(col)
    notes = []
    for ind in cat.indicators:
        machine = (fmt_target(ind, lang) if ind.comparator and ind.threshold is not None
                   else (_("qualitative") if ind.kind == "qualitative" else t("tracked")))
        name = ind.display_name(lang)
        if ind.name_zh and ind.name_zh != ind.level3:  # the seed's typo (回民): the display name, the text noted
            notes.append(_("※ {name}: the catalogue's level-3 text reads {verbatim} (sic); shown by its display name",
                           name=name, verbatim=q(ind.level3)))
            name += "※"
        table.add_row(name, ind.level1, ind.level2, ind.target_text,
                      machine, f"{ind.weight:g}" if not ind.tracked_only else "—", ind.id)
    if notes:
        table.caption = "\n".join(notes)
    out = _console()
    out.print(table)
    if _catalogue_file(cat.source_path) == _("built-in catalogue"):  # where to copy it from, said once, below
        out.print(_("The built-in catalogue is the file {file}; to change a target, copy it into a folder of your "
                    "own and point targets_dir (HOTLINE_KPI_TARGETS_DIR) at that folder", file=cat.source_path),
                  soft_wrap=True, markup=False)


def _catalogue_file(path: str) -> str:
    """Where a catalogue comes from, as the office reads it: the file's name, or the shipped one."""
    from hotline_kpi import defaults

    if not path:
        return "—"
    if Path(path).resolve().is_relative_to(defaults.path(defaults.TARGETS).resolve()):
        return _("built-in catalogue")
    return Path(path).name


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
