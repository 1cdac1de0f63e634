"""The ingestors known by ``--source`` name, and recognising a file's source."""

from __future__ import annotations

from pathlib import Path

from hotline_kpi.ingest.base import Ingestor


class UnknownSource(ValueError):
    pass


def ingestors() -> dict[str, Ingestor]:
    from hotline_kpi.ingest.daily_report import DailyReportIngestor

    found: list[Ingestor] = [DailyReportIngestor()]
    return {i.source: i for i in found}


def get_ingestor(source: str) -> Ingestor:
    known = ingestors()
    try:
        return known[source]
    except KeyError:
        raise UnknownSource(f"unknown source {source!r} (known: {', '.join(sorted(known))})") from None


def detect_source(path: Path, head: bytes) -> str:
    """The one source whose ``sniff`` accepts the file; an error if none or several do."""
    matches = [name for name, ing in ingestors().items() if ing.sniff(path, head)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UnknownSource(f"{path}: cannot tell which system produced this file; pass --source")
    raise UnknownSource(f"{path}: looks like several sources ({', '.join(matches)}); pass --source")
