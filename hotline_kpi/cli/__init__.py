"""The command line: the edge where settings, engine, catalogues and the clock are built.

The root group lives here; each command group is a module of this package (``app`` holds
what they share) and is registered below.
"""

from __future__ import annotations

import click

from hotline_kpi import __version__
from hotline_kpi.cli import alerts, db, demo, evaluate, export, ingest, report, serve, targets
from hotline_kpi.cli.app import App

__all__ = ["cli", "main"]


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


for _command in (db.db, ingest.ingest, evaluate.evaluate, report.report, export.export, targets.targets,
                 serve.serve, demo.demo, alerts.alerts):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="hotline-kpi")
