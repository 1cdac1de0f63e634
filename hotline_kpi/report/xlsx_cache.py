"""Cached values for the formulas of a workbook openpyxl wrote.

openpyxl writes a formula with an empty value (``<f>…</f><v></v>``): Excel and LibreOffice
recalculate on opening, but a viewer that does not (a mail preview, a phone, a web viewer,
a reader of the file with ``data_only``) shows a blank total. The report knows every value
its formulas compute, so it writes them in as the cached result: a viewer shows the total,
and an application that recalculates gets the same figure from the formula.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Mapping
from xml.sax.saxutils import escape

_SHEET = re.compile(r'<sheet\b[^>]*?name="([^"]*)"[^>]*?r:id="([^"]+)"')
_TYPE = re.compile(r' t="[^"]*"')
_REL = re.compile(r'<Relationship\b[^>]*?Target="([^"]+)"[^>]*?Id="([^"]+)"|'
                  r'<Relationship\b[^>]*?Id="([^"]+)"[^>]*?Target="([^"]+)"')


def _unescape_attr(text: str) -> str:
    return text.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _sheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title -> the part inside the package (xl/worksheets/sheetN.xml)."""
    rels: dict[str, str] = {}
    for m in _REL.finditer(z.read("xl/_rels/workbook.xml.rels").decode("utf-8")):
        target, rid = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        rels[rid] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    return {_unescape_attr(name): rels[rid] for name, rid in
            _SHEET.findall(z.read("xl/workbook.xml").decode("utf-8")) if rid in rels}


def _value_xml(value: float | str) -> tuple[str, str]:
    """(the type attribute, the <v> text) of a cached result."""
    if isinstance(value, str):
        return ' t="str"', escape(value)
    return "", repr(float(value))


def with_cached_values(data: bytes, cached: Mapping[tuple[str, str], float | str]) -> bytes:
    """``data`` (an openpyxl workbook) with ``cached[(sheet title, "G24")]`` as the formula's value."""
    if not cached:
        return data
    by_sheet: dict[str, dict[str, float | str]] = {}
    for (sheet, coord), value in cached.items():
        by_sheet.setdefault(sheet, {})[coord] = value
    src = zipfile.ZipFile(io.BytesIO(data))
    parts = _sheet_parts(src)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            sheet = next((s for s, p in parts.items() if p == info.filename), None)
            if sheet in by_sheet:
                xml = body.decode("utf-8")
                for coord, value in by_sheet[sheet].items():
                    rx = re.compile(r'<c r="' + coord + r'"((?: [a-z]+="[^"]*")*)><f>(.*?)</f><v\s*/?>(?:</v>)?</c>')
                    kind, text = _value_xml(value)
                    xml, n = rx.subn(lambda m: f'<c r="{coord}"{_TYPE.sub("", m.group(1))}{kind}>'
                                               f'<f>{m.group(2)}</f><v>{text}</v></c>', xml, count=1)
                    if n != 1:
                        raise ValueError(f"no formula cell {sheet}!{coord} to cache a value in")
                body = xml.encode("utf-8")
            dst.writestr(info, body)
    return out.getvalue()
