"""Pre-rendered, pre-compressed answers, and the negotiation that picks one per request.

/metrics answers as prometheus_client's own exposition does: the format and the
Content-Type are what its ``choose_encoder`` answers for the ``Accept`` header
(OpenMetrics for ``application/openmetrics-text`` without a version or with a version of
1.0.0 or more, its Content-Type naming that version; the text format 0.0.4 otherwise, an
OpenMetrics version below 1.0.0 included). Our families have no native histograms and
only legacy names, so the body of every OpenMetrics version and escaping it answers is
the same bytes (tests/service/test_negotiation.py checks it against its encoders). Gzip
when ``Accept-Encoding`` names gzip with a q-value above 0 (``gzip;q=0`` means not
acceptable, RFC 9110 §12.5.3, which ``gzip_accepted`` ignores). Every variant is made when the cache refreshes, never
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

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, choose_encoder

TEXT = "text"
OPENMETRICS = "openmetrics"
#: What a client asking for the text format 0.0.4 and for OpenMetrics 1.0.0 (Prometheus) gets.
CONTENT_TYPES = {TEXT: CONTENT_TYPE_PLAIN_0_0_4,
                 OPENMETRICS: choose_encoder("application/openmetrics-text;version=1.0.0")[1]}
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
        fmt, content_type = metrics_format(accept or "")
        gz = gzip_accepted(accept_encoding or "")
        return Answer(self.bodies[(fmt, gz)], content_type, "gzip" if gz else "", "Accept, Accept-Encoding")


_FORMATS: dict[str, tuple[str, str]] = {}


def metrics_format(accept: str) -> tuple[str, str]:
    """The format and Content-Type prometheus_client's ``choose_encoder`` answers
    ``accept`` with (remembered per header: scrapers send the same one every time)."""
    got = _FORMATS.get(accept)
    if got is None:
        _, content_type = choose_encoder(accept)
        got = (OPENMETRICS if content_type.startswith("application/openmetrics-text") else TEXT, content_type)
        if len(_FORMATS) < 256:
            _FORMATS[accept] = got
    return got


def gzip_accepted(accept_encoding: str) -> bool:
    """True when ``Accept-Encoding`` names gzip (or its alias x-gzip) with a q-value above 0."""
    for part in accept_encoding.split(","):
        name, *params = (p.strip() for p in part.split(";"))
        if name.lower() not in ("gzip", "x-gzip"):
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        return q > 0
    return False


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
