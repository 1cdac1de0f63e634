"""Pre-rendered, pre-compressed answers, and the negotiation that picks one per request.

/metrics answers as prometheus_client's own exposition does (``choose_encoder``,
``gzip_accepted``): OpenMetrics 1.0.0 when ``Accept`` names
``application/openmetrics-text``, the text format 0.0.4 otherwise, gzip-compressed when
``Accept-Encoding`` names gzip. Every variant is made when the cache refreshes, never
per request: a request is a dictionary lookup (docs/metrics.md, docs/performance.md).

The large part of an answer (the snapshots' series) changes once per evaluation, the
small part (the service's own state) at every refresh. :class:`GzipPrefix` compresses
the large part once and keeps the compressor's state, so that a refresh compresses only
the small tail and still gives one ordinary gzip member.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Mapping

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, choose_encoder, gzip_accepted
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as CONTENT_TYPE_OPENMETRICS

TEXT = "text"
OPENMETRICS = "openmetrics"
CONTENT_TYPES = {TEXT: CONTENT_TYPE_PLAIN_0_0_4, OPENMETRICS: CONTENT_TYPE_OPENMETRICS}
#: Level 6 (zlib's default): the body shrinks about 15 times; it is compressed once per evaluation.
GZIP_LEVEL = 6
OM_EOF = b"# EOF\n"


class GzipPrefix:
    """The gzip compression of ``prefix`` kept open: :meth:`finish` appends a tail and
    closes the stream, without compressing the prefix again."""

    def __init__(self, prefix: bytes, level: int = GZIP_LEVEL):
        self._c = zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
        self._head = self._c.compress(prefix)

    def finish(self, tail: bytes) -> bytes:
        c = self._c.copy()
        return self._head + c.compress(tail) + c.flush()


def gzip_bytes(body: bytes, level: int = GZIP_LEVEL) -> bytes:
    return GzipPrefix(b"", level).finish(body)


@dataclass(frozen=True)
class Answer:
    body: bytes
    media_type: str
    #: "gzip" or "" (identity)
    encoding: str = ""
    vary: str = "Accept-Encoding"

    def headers(self) -> dict[str, str]:
        h = {"Vary": self.vary}
        if self.encoding:
            h["Content-Encoding"] = self.encoding
        return h


@dataclass(frozen=True)
class Variants:
    """Every variant of one answer: (format, gzip) -> bytes."""

    bodies: Mapping[tuple[str, bool], bytes]

    def pick(self, accept: str | None, accept_encoding: str | None) -> Answer:
        fmt = metrics_format(accept or "")
        gz = gzip_accepted(accept_encoding or "")
        return Answer(self.bodies[(fmt, gz)], CONTENT_TYPES[fmt], "gzip" if gz else "", "Accept, Accept-Encoding")


_FORMATS: dict[str, str] = {}


def metrics_format(accept: str) -> str:
    """The format prometheus_client's ``choose_encoder`` would answer ``accept`` with
    (remembered per header: scrapers send the same one every time)."""
    fmt = _FORMATS.get(accept)
    if fmt is None:
        _, content_type = choose_encoder(accept)
        fmt = OPENMETRICS if content_type.startswith("application/openmetrics-text") else TEXT
        if len(_FORMATS) < 256:
            _FORMATS[accept] = fmt
    return fmt


@dataclass(frozen=True)
class Compressed:
    """One body (a page, a JSON document) and its gzip copy, negotiated on Accept-Encoding."""

    body: bytes
    gz: bytes
    media_type: str

    @classmethod
    def of(cls, body: bytes, media_type: str) -> "Compressed":
        return cls(body, gzip_bytes(body), media_type)

    def pick(self, accept_encoding: str | None) -> Answer:
        if gzip_accepted(accept_encoding or ""):
            return Answer(self.gz, self.media_type, "gzip")
        return Answer(self.body, self.media_type)
