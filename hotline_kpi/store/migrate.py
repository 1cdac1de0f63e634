"""Schema migrations, run programmatically (``hotline-kpi db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from hotline_kpi.i18n import M_

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaNotCurrent(RuntimeError):
    """The database schema is missing or behind the code; the message says what to run."""


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def require_current(engine: Engine) -> None:
    current = current_revision(engine)
    if current != head_revision():
        url = engine.url.render_as_string(hide_password=True)
        if current is None:
            raise SchemaNotCurrent(M_("the database {url} has no schema; run `hotline-kpi db upgrade` (head is {head})",
                                      url=url, head=head_revision()))
        raise SchemaNotCurrent(M_("the database {url} is at revision {current}; run `hotline-kpi db upgrade` "
                                  "(head is {head})", url=url, current=current, head=head_revision()))
