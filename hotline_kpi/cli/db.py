"""``hotline-kpi db``: the database schema."""

from __future__ import annotations

import click

from hotline_kpi.i18n import _
from hotline_kpi.cli.app import App, pass_app
from hotline_kpi.store import migrate


@click.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@pass_app
def db_upgrade(app: App) -> None:
    """Create or upgrade the schema to the current version."""
    migrate.upgrade(app.engine)
    click.echo(_("database {url} at revision {revision}", url=app.engine.url.render_as_string(hide_password=True),
                 revision=migrate.current_revision(app.engine)))


@db.command("current")
@pass_app
def db_current(app: App) -> None:
    """Show the schema revision of the database."""
    click.echo(migrate.current_revision(app.engine) or _("no schema (run `hotline-kpi db upgrade`)"))
