"""Alembic environment: the engine comes in through ``config.attributes`` (see migrate.py)."""

from __future__ import annotations

from alembic import context

from hotline_kpi.store.db import make_engine
from hotline_kpi.store.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` command line with sqlalchemy.url set
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: batch mode copies tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
