"""What the readers of tables take from openpyxl without importing it: Excel's day 0, column
letters and serial dates. openpyxl (with lxml) costs a process about 20 MB and 0.2 s to
import; it is imported when a workbook is read or written, not by an ingest of a queue_log
or a CSV file, nor by the service until it needs it."""

from __future__ import annotations

import datetime as dt

#: openpyxl's ``WINDOWS_EPOCH``: Excel's day 0 on Windows (tests/ingest/test_excel.py checks
#: it is openpyxl's).
WINDOWS_EPOCH = dt.datetime(1899, 12, 30)


def column_letter(n: int) -> str:
    """The letters of column ``n`` (1: "A"), as openpyxl writes them."""
    from openpyxl.utils import get_column_letter

    return get_column_letter(n)


def from_excel(serial: float, epoch: dt.datetime = WINDOWS_EPOCH) -> dt.datetime:
    """openpyxl's ``from_excel``: the moment of an Excel serial number."""
    from openpyxl.utils.datetime import from_excel as convert

    return convert(serial, epoch)
