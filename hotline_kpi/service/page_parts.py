"""The status page rendered in parts: each hotline's board and the league section kept
as rendered bytes, the page assembled around them (issue #19).

``status.html`` names two blocks, ``league`` and ``board`` (one per hotline, in the
boards' loop). :class:`PageTemplate` renders the whole template (:meth:`PageTemplate.render`,
the reference), one block alone (:meth:`PageTemplate.board`, :meth:`PageTemplate.league`),
or the page with the league's HTML and a marker in each board's place
(:meth:`PageTemplate.assemble`), whose pieces are joined with the kept boards' bytes. The
result is the whole template's rendering byte for byte (tests/service/test_page_parts.py).

:class:`BoardCache` keeps each board per language with the key of what it shows; a
build renders only the boards whose key changed. Before, every change of anything on the
page (one hotline's evaluation, an alert, a quarantined file, the 5-minute tick for the
ages) rendered all boards: with 350 hotlines 18-27 s of interpreter time in the serving
process, and the objects of 700 boards' contexts kept alive until the end set off full
garbage collections of 0.5-0.7 s each (docs/performance.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Mapping

from jinja2 import Environment
from markupsafe import Markup

from hotline_kpi.i18n import Lang, _, t
from hotline_kpi.service.kpi_render import YIELD_SECONDS

#: Marks a board's place in the assembled page (never in the page's text: a NUL).
MARK = "\x00"


@dataclass(frozen=True, eq=False)
class Same:
    """Compares by identity: a key part that is the same object (a catalogue, a tuple of
    counters read once per snapshot) without comparing its content at every build."""

    obj: Any

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)


class PageTemplate:
    """``status.html`` whole or in parts; see the module's doc."""

    def __init__(self, env: Environment, name: str = "status.html"):
        self.template = env.get_template(name)
        # Overrides both blocks: the league's kept HTML, and a marker in each board's place.
        self._outer = env.from_string('{% extends "' + name + '" %}{% block league %}{{ league_html }}{% endblock %}'
                                      '{% block board %}' + MARK + '{% endblock %}')

    @staticmethod
    def _vars(ctx: Mapping[str, Any]) -> dict[str, Any]:
        lang: Lang = ctx["lang"]
        return {**ctx, "t": lambda key, **kw: t(key, lang, **kw),
                "gettext": lambda msgid, **kw: _(msgid, lang=lang, **kw),
                "ngettext": lambda one, many, n, **kw: _(one if n == 1 else many, lang=lang, **kw)}

    def render(self, ctx: Mapping[str, Any]) -> str:
        """The whole page from a context holding every board (the reference rendering)."""
        return self.template.render(**self._vars(ctx))

    def _block(self, name: str, ctx: Mapping[str, Any]) -> str:
        return "".join(self.template.blocks[name](self.template.new_context(self._vars(ctx))))

    def board(self, ctx: Mapping[str, Any], board: Mapping[str, Any]) -> bytes:
        """One board's section as the page's loop renders it (``ctx``: the page's context)."""
        return self._block("board", {**ctx, "b": board}).encode("utf-8")

    def league(self, ctx: Mapping[str, Any]) -> str:
        return self._block("league", ctx)

    def assemble(self, ctx: Mapping[str, Any], league_html: str, boards: list[bytes]) -> bytes:
        """The page with the league's HTML and the boards' bytes in their places."""
        outer = self._outer.render(**self._vars({**ctx, "boards": [None] * len(boards),
                                                  "league_html": Markup(league_html)}))
        pieces = outer.split(MARK)
        assert len(pieces) == len(boards) + 1, "a board's marker in the page's text"
        parts: list[bytes] = []
        for piece, board in zip(pieces, boards):
            parts += (piece.encode("utf-8"), board)
        parts.append(pieces[-1].encode("utf-8"))
        return b"".join(parts)


class BoardCache:
    """Per (hotline, language): the key of what the board shows and its rendered bytes."""

    def __init__(self, pause: Callable[[], None] = lambda: time.sleep(YIELD_SECONDS)):
        self._kept: dict[tuple[str, Lang], tuple[Hashable, bytes | None]] = {}
        self._pause = pause
        #: boards rendered so far (tests: one evaluation of one hotline renders its board only)
        self.rendered = 0

    def get(self, hid: str, lang: Lang, key: Hashable, make: Callable[[], bytes | None]) -> bytes | None:
        """The board's bytes for ``key``, rendered by ``make`` when the kept key differs
        (None: the hotline has no board)."""
        got = self._kept.get((hid, lang))
        if got is None or got[0] != key:
            got = self._kept[(hid, lang)] = (key, make())
            self.rendered += 1
            self._pause()  # a waiting request gets the interpreter between boards (kpi_render.py)
        return got[1]

    def keep_only(self, hotlines: set[str]) -> None:
        """Forget the boards of hotlines no longer shown."""
        self._kept = {k: v for k, v in self._kept.items() if k[0] in hotlines}
