"""The status page in headless Chromium (Debian ``chromium``), on a real ``serve`` with the
demo year: a screenshot is taken and checked, and the scoreboard table is read from the
DOM Chromium built and compared with what ``hotline-kpi evaluate --format json`` computes.

Chromium must be at /usr/bin/chromium (``make test`` installs it); without it these
tests fail, they are not skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hotline_kpi.catalogue import CatalogueSet
from tests.common import SHANGHAI as HOTLINE
from tests.processes import DemoTemplate, ServeProcess, prepare_demo, run_cli, start_serve

#: Starts real processes (tests/processes.py): deselected by ``pytest -m 'not system'``.
pytestmark = pytest.mark.system

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
CHROMIUM_TIMEOUT = 90  # seconds for one Chromium run (it usually takes 1-3 s)
AS_OF = "2019-12-31"
WINDOW_SIZE = (1400, 1000)

# Written out here, not imported from hotline_kpi.i18n: the page is checked against what
# a reader expects, not against the code that made it.
STATUS_TEXT = {
    "zh": {"met": "达标", "breached": "未达标", "no_data": "无数据", "tracked": "跟踪"},
    "en": {"met": "met", "breached": "breached", "no_data": "no data", "tracked": "tracked"},
}
SECONDS = {"zh": "秒", "en": "s"}
YEAR_TO_DATE = {"zh": "年累计", "en": "Year to date"}
# Colours of the status page's stylesheet (badge.met, badge.breached, td.met, td.breached).
RGB = {"badge_met": "1a7f37", "badge_breached": "cf222e", "cell_met": "dafbe1", "cell_breached": "ffd8d3"}


def expected_text(value: float | None, unit: str, lang: str) -> str:
    """A value as the page shows it: ratios "92.26%", seconds "8.27 秒", volumes "4,043,724"."""
    if value is None:
        return "—"
    if unit == "ratio":
        return f"{100 * value:.2f}%"
    if unit == "seconds":
        return f"{value:.2f} {SECONDS[lang]}"
    return f"{value:,.0f}"


# --- Chromium ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"{CHROMIUM} not found: the status-page tests need Debian's chromium and fonts-noto-cjk; "
                    "run `make test` (which installs them as root) or `apt-get install chromium fonts-noto-cjk`")
    return CHROMIUM


def run_chromium(chromium: Path, workdir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """One headless Chromium run with a fresh profile, bounded by CHROMIUM_TIMEOUT; its
    whole process group is killed afterwards so no renderer outlives the test."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir)
    cmd = [str(chromium), *FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=workdir,
                            env={**os.environ, "HOME": profile}, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=CHROMIUM_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=10)
        raise AssertionError(f"chromium did not finish within {CHROMIUM_TIMEOUT} s: {' '.join(cmd)}\n"
                             f"{err.decode('utf-8', 'replace')[-3000:]}") from None
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # leftovers (zygote, utility processes) of this run only
        except ProcessLookupError:
            pass
        shutil.rmtree(profile, ignore_errors=True)
    if proc.returncode != 0:
        raise AssertionError(f"chromium exited {proc.returncode}: {' '.join(cmd)}\n"
                             f"{err.decode('utf-8', 'replace')[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def dump_dom(chromium: Path, workdir: Path, url: str) -> Element:
    html = run_chromium(chromium, workdir, "--dump-dom", url).stdout.decode("utf-8")
    assert "<table" in html, f"no table in the DOM of {url}:\n{html[:2000]}"
    return parse_html(html)


# --- a small DOM from html.parser -----------------------------------------------------------


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)
    parent: Element | None = field(default=None, repr=False)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return " ".join("".join(c if isinstance(c, str) else c.text() for c in self.children).split())

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Element):
                yield from c.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Element]:
        return [e for e in self.iter()
                if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)
                and all(e.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Element:
        found = self.find_all(tag, cls, **attrs)
        assert found, f"no <{tag} class={cls!r} {attrs}> in <{self.tag} {self.attrs}>"
        return found[0]

    def has_attr(self, name: str) -> bool:
        return name in self.attrs


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.cur = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = Element(tag, {k: v or "" for k, v in attrs}, parent=self.cur)
        self.cur.children.append(el)
        if tag not in _VOID:
            self.cur = el

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.cur.children.append(Element(tag, {k: v or "" for k, v in attrs}, parent=self.cur))

    def handle_endtag(self, tag: str) -> None:
        el = self.cur
        while el is not None and el.tag != tag:
            el = el.parent
        if el is not None and el.parent is not None:
            self.cur = el.parent

    def handle_data(self, data: str) -> None:
        self.cur.children.append(data)


def parse_html(html: str) -> Element:
    b = _TreeBuilder()
    b.feed(html)
    b.close()
    return b.root


# --- a PNG reader (stdlib only) ----------------------------------------------------------------


@dataclass
class Png:
    width: int
    height: int
    channels: int
    rows: list[bytes]

    def count(self, rgb_hex: str) -> int:
        """Pixels of exactly this colour."""
        rgb = bytes.fromhex(rgb_hex)
        n = 0
        for row in self.rows:
            if rgb in row:
                n += sum(1 for x in range(0, len(row), self.channels) if row[x:x + 3] == rgb)
        return n


def read_png(path: Path) -> Png:
    """Decode an 8-bit RGB/RGBA, non-interlaced PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG (starts with {data[:8]!r})"
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0], "bad PNG CRC"
        pos += 12 + n
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    assert ihdr is not None and idat, "PNG without IHDR or IDAT"
    width, height, depth, colour, _, _, interlace = ihdr
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unexpected PNG format {ihdr}"
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(b"".join(idat))
    assert len(raw) == height * (stride + 1), "truncated PNG image data"
    lo, hi = int.from_bytes(b"\x7f" * stride, "big"), int.from_bytes(b"\x80" * stride, "big")
    prev, rows = bytes(stride), []
    for y in range(height):
        kind, line = raw[y * (stride + 1)], raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        if kind == 0:
            cur = line
        elif kind == 2:  # Up: byte-wise addition mod 256 on the whole row at once
            a, b = int.from_bytes(line, "big"), int.from_bytes(prev, "big")
            cur = (((a & lo) + (b & lo)) ^ ((a ^ b) & hi)).to_bytes(stride, "big")
        else:
            c = bytearray(line)
            for i in range(stride):
                left = c[i - bpp] if i >= bpp else 0
                if kind == 1:
                    c[i] = (c[i] + left) & 255
                elif kind == 3:
                    c[i] = (c[i] + (left + prev[i]) // 2) & 255
                elif kind == 4:
                    up, corner = prev[i], (prev[i - bpp] if i >= bpp else 0)
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    c[i] = (c[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
                else:
                    raise AssertionError(f"unknown PNG filter {kind}")
            cur = bytes(c)
        rows.append(cur)
        prev = cur
    return Png(width, height, bpp, rows)


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("status-page")


@pytest.fixture(scope="module")
def served(workdir: Path, request: pytest.FixtureRequest, demo_template: DemoTemplate) -> ServeProcess:
    base = workdir / "service"
    env = prepare_demo(demo_template, base)
    return start_serve(env, base, request.addfinalizer, ready_timeout=60)


@pytest.fixture(scope="module")
def expected(served: ServeProcess) -> dict:
    """What `hotline-kpi evaluate --as-of 2019-12-31 --format json` says on the same store."""
    out = run_cli(served.env, "evaluate", "--hotline", HOTLINE, "--as-of", AS_OF, "--format", "json",
                  cwd=served.log_path.parent, timeout=120).stdout
    return json.loads(out)


def _results(expected: dict) -> dict[tuple[str, str], dict]:
    return {(r["id"], r["window"]): r for r in expected["results"]}


def _indicator_ids(expected: dict) -> list[str]:
    seen: list[str] = []
    for r in expected["results"]:
        if r["id"] not in seen:
            seen.append(r["id"])
    return seen


def check_board(doc: Element, expected: dict, catalogues: CatalogueSet, lang: str) -> None:
    """Every quantitative indicator row of the page against the evaluation."""
    assert not doc.find_all(id="not-ready"), f"the page says not ready: {doc.find(id='not-ready').text()}"
    board = doc.find("section", cls="board", data_hotline=HOTLINE)
    cat = catalogues.for_year(HOTLINE, 2019)
    assert board.find("h2").text() == (cat.hotline.name if lang == "zh" else cat.hotline.name_en)
    assert board.find("span", cls="as-of").attrs["data-date"] == expected["as_of"] == AS_OF
    assert board.find("span", cls="as-of").text() == ("2019年12月31日" if lang == "zh" else AS_OF)
    assert board.find("span", cls="data-date").attrs["data-date"] == expected["data_date"]
    comp = expected["completeness"]
    pct = f"{100 * comp['ratio']:.1f}%"
    assert board.find("span", cls="completeness").text() == (
        f"{comp['days_with_data']}/{comp['days_elapsed']}" + (f"（{pct}）" if lang == "zh" else f" ({pct})"))

    table = board.find("table", cls="scoreboard")
    headers = [th.text() for th in table.find_all("th")]
    assert YEAR_TO_DATE[lang] in headers, headers
    rows = [tr for tr in table.find_all("tr") if tr.has_attr("data-indicator")]
    assert [tr.attrs["data-indicator"] for tr in rows] == _indicator_ids(expected) == [i.id for i in cat.quantitative]

    results = _results(expected)
    by_id = {i.id: i for i in cat.quantitative}
    for tr in rows:
        iid = tr.attrs["data-indicator"]
        ind = by_id[iid]
        assert tr.find("td", cls="name").text() == ind.display_name(lang)  # 回访, not the seed's 回民
        cells = {td.attrs["data-window"]: td for td in tr.find_all("td") if td.has_attr("data-window")}
        assert "year_to_date" in cells, f"{iid}: no year-to-date cell"
        for window, td in cells.items():
            r = results[(iid, window)]
            want = expected_text(r["value"], r["unit"], lang)
            assert td.text() == want, f"{iid} {window}: page {td.text()!r}, evaluate {r['value']!r} -> {want!r}"
            assert r["status"] in td.classes, f"{iid} {window}: cell classes {td.classes}, status {r['status']}"
        ytd = results[(iid, "year_to_date")]
        badge = tr.find("td", cls="status").find("span", cls="badge")
        assert badge.text() == STATUS_TEXT[lang][ytd["status"]], f"{iid}: badge {badge.text()!r}, {ytd['status']}"
        assert ytd["status"] in badge.classes
        if ind.targeted:
            assert badge.text() in (STATUS_TEXT[lang]["met"], STATUS_TEXT[lang]["breached"])


# --- tests ---------------------------------------------------------------------------------------


def test_screenshot_is_a_rendered_scoreboard(chromium: Path, served: ServeProcess, expected: dict,
                                             workdir: Path) -> None:
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, timeout=30).stdout
    assert fonts.strip(), "no Chinese font installed (the page would show boxes): install fonts-noto-cjk (make test)"
    png = workdir / "page.png"
    run_chromium(chromium, workdir, f"--screenshot={png}", f"--window-size={WINDOW_SIZE[0]},{WINDOW_SIZE[1]}",
                 served.url("/"))
    assert png.is_file(), f"chromium wrote no screenshot at {png}"
    # A blank 1400x1000 page compresses to about 6 KB; the scoreboard to over 100 KB.
    assert png.stat().st_size > 30_000, f"screenshot only {png.stat().st_size} bytes: blank page?"
    image = read_png(png)
    assert (image.width, image.height) == WINDOW_SIZE
    colours = {name: image.count(rgb) for name, rgb in RGB.items()}
    ytd = {r["status"] for r in expected["results"] if r["window"] == "year_to_date"}
    # The status colours are painted: a green badge and cell for met, red ones for breached.
    for status in ("met", "breached"):
        if status in ytd:
            assert colours[f"badge_{status}"] > 100 and colours[f"cell_{status}"] > 1000, (status, colours)
    if not any(r["status"] == "breached" for r in expected["results"]):
        assert colours["badge_breached"] == 0 and colours["cell_breached"] == 0, colours


def test_dom_cells_match_evaluate_in_chinese(chromium: Path, served: ServeProcess, expected: dict,
                                             catalogues: CatalogueSet, workdir: Path) -> None:
    doc = dump_dom(chromium, workdir, served.url("/"))
    html = doc.find("html")
    assert html.attrs.get("lang") == "zh-CN"
    assert doc.find("h1").text() == "热线绩效监测"
    switch = doc.find("nav").find("a")
    assert switch.attrs["href"] == "?lang=en" and switch.text() == "English"
    check_board(doc, expected, catalogues, "zh")
    # The examples of the page's formats, on the demo year.
    ytd = {tr.attrs["data-indicator"]: tr.find("td", data_window="year_to_date").text()
           for tr in doc.find_all("tr") if tr.has_attr("data-indicator")}
    assert ytd["connection_rate"].endswith("%") and ytd["average_answer_seconds"].endswith(" 秒")
    assert "," in ytd["requests_accepted"]


def test_english_switch_renders_english(chromium: Path, served: ServeProcess, expected: dict,
                                        catalogues: CatalogueSet, workdir: Path) -> None:
    doc = dump_dom(chromium, workdir, served.url("/?lang=en"))
    assert doc.find("html").attrs.get("lang") == "en"
    assert doc.find("h1").text() == "Hotline KPI status"
    switch = doc.find("nav").find("a")
    assert switch.attrs["href"] == "?lang=zh" and switch.text() == "中文"
    check_board(doc, expected, catalogues, "en")
    names = [td.text() for td in doc.find_all("td", cls="name")]
    assert all(n.isascii() for n in names), names
