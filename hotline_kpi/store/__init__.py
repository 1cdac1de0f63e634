"""The KPI store: ORM models, engine set-up, migrations and repository functions."""
