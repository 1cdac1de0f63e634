"""hotline-kpi: KPI monitoring for government service hotlines.

The package reads as the data flows: ``ingest`` -> ``store`` -> ``evaluate`` ->
(export, alerts, report), with the CLI and scheduler at the edge.
"""

__version__ = "0.1.0"
