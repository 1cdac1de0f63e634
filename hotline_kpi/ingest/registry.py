"""The ingestors known by ``--source`` name, and recognising a file's source."""

from __future__ import annotations

from pathlib import Path
from typing import Union

from hotline_kpi.ingest.base import Ingestor, RecordIngestor

AnyIngestor = Union[Ingestor, RecordIngestor]


class UnknownSource(ValueError):
    pass


def ingestors() -> dict[str, AnyIngestor]:
    from hotline_kpi.ingest.callbacks import CallbackIngestor
    from hotline_kpi.ingest.daily_report import DailyReportIngestor
    from hotline_kpi.ingest.queue_log import QueueLogIngestor
    from hotline_kpi.ingest.spending import SpendingIngestor
    from hotline_kpi.ingest.tickets import TicketIngestor

    found: list[AnyIngestor] = [DailyReportIngestor(), QueueLogIngestor(), TicketIngestor(), CallbackIngestor(),
                                SpendingIngestor()]
    return {i.source: i for i in found}


def get_ingestor(source: str) -> AnyIngestor:
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
