"""The KPI store: ORM models, engine set-up, migrations, and the functions that read and
write it (session first): provenance, records, sums and runs (docs/architecture.md)."""
