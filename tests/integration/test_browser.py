"""The demo's outbox in a real browser: Debian's headless Chromium renders the HTML index and an
email, the screenshots are not blank, and the rendered DOM links every email.

Skipped when ``/usr/bin/chromium`` is missing, except in CI (``CI`` set), where it fails:
``.ci/run`` installs the package.
"""

from __future__ import annotations

import asyncio
import re
import struct
import subprocess
import zlib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.integration.browser import FLAGS, require_chromium
from winback.demo import DemoSummary, run_demo

WINDOW = (1200, 1600)


@pytest.fixture(scope="module")
def chromium() -> Path:
    return require_chromium()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    """A small demo run (the real pipeline: emulators, sync, rules, outbox, index)."""
    return asyncio.run(run_demo(tmp_path_factory.mktemp("demo"), customers=300))


def run_chromium(chromium: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile.mkdir(parents=True, exist_ok=False)
    command = [str(chromium), *FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"chromium exited with {done.returncode}:\n{done.stderr[-3000:]}"
    return done


def screenshot(chromium: Path, page: Path, out: Path) -> Path:
    run_chromium(chromium, out.with_suffix(".profile"), f"--screenshot={out}",
                 f"--window-size={WINDOW[0]},{WINDOW[1]}", page.resolve().as_uri())
    assert out.is_file(), f"chromium wrote no screenshot of {page}"
    return out


def dump_dom(chromium: Path, page: Path, profile: Path) -> str:
    return run_chromium(chromium, profile, "--dump-dom", page.resolve().as_uri()).stdout


# --- a tiny PNG reader (no Pillow here) ---------------------------------------------------------


def png_pixels(path: Path) -> tuple[int, int, int, Iterator[bytes]]:
    """(width, height, bytes per pixel, rows of raw pixel bytes) of an 8-bit, non-interlaced
    RGB/RGBA/grey PNG such as Chromium writes."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and interlace == 0, (depth, interlace)
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[color]
    raw = zlib.decompress(b"".join(chunks))
    stride = width * bpp

    def rows() -> Iterator[bytes]:
        previous = bytearray(stride)
        for y in range(height):
            start = y * (stride + 1)
            kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
            if kind == 1:
                for i in range(bpp, stride):
                    line[i] = (line[i] + line[i - bpp]) & 0xFF
            elif kind == 2:
                line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
            elif kind == 3:
                for i in range(stride):
                    left = line[i - bpp] if i >= bpp else 0
                    line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
            elif kind == 4:
                for i in range(stride):
                    a = line[i - bpp] if i >= bpp else 0
                    b, c = previous[i], previous[i - bpp] if i >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
            previous = line
            yield bytes(line)

    return width, height, bpp, rows()


def distinct_colours(path: Path) -> tuple[int, int, int]:
    """(width, height, how many distinct pixel values)."""
    width, height, bpp, rows = png_pixels(path)
    colours: set[bytes] = set()
    for line in rows:
        colours.update(line[i:i + bpp] for i in range(0, len(line), bpp))
    return width, height, len(colours)


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value]


def hrefs(dom: str) -> list[str]:
    parser = Links()
    parser.feed(dom)
    return parser.hrefs


# --- tests --------------------------------------------------------------------------------------


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _encode_png(pixels: list[bytes], width: int, bpp: int = 3) -> bytes:
    """A PNG whose row ``y`` uses filter type ``y % 5`` (the encoder side of each filter)."""
    raw, previous = b"", bytes(width * bpp)
    for y, row in enumerate(pixels):
        kind, out = y % 5, bytearray()
        for i, value in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b, c = previous[i], previous[i - bpp] if i >= bpp else 0
            predictor = (0, a, b, (a + b) >> 1, _paeth(a, b, c))[kind]
            out.append((value - predictor) & 0xFF)
        raw += bytes([kind]) + bytes(out)
        previous = row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, len(pixels), 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_png_reader_undoes_every_filter(tmp_path: Path) -> None:
    """The reader against a PNG built here, so a bug in the blank check cannot hide."""
    width = 4
    pixels = [bytes((x * 53 + y * 97 + c * 31) % 256 for x in range(width) for c in range(3)) for y in range(10)]
    (tmp_path / "t.png").write_bytes(_encode_png(pixels, width))

    w, h, bpp, rows = png_pixels(tmp_path / "t.png")

    assert (w, h, bpp) == (width, 10, 3)
    assert list(rows) == pixels
    assert distinct_colours(tmp_path / "t.png") == (width, 10, len({p[i:i + 3] for p in pixels for i in range(0, 12, 3)}))


def test_index_renders_and_links_every_email(chromium: Path, demo: DemoSummary, tmp_path: Path) -> None:
    assert demo.index is not None and demo.outbox is not None
    emls = sorted(p.name for p in demo.outbox.glob("*.eml"))
    assert emls, demo.render()

    shot = screenshot(chromium, demo.index, tmp_path / "index.png")
    dom = dump_dom(chromium, demo.index, tmp_path / "dom-profile")

    width, height, colours = distinct_colours(shot)
    assert (width, height) == WINDOW
    assert colours > 200, f"the index screenshot looks blank ({colours} distinct colours): {shot}"
    links = hrefs(dom)
    assert sorted(h for h in links if h.endswith(".eml")) == emls
    assert sorted(h for h in links if h.startswith("html/")) == sorted(f"html/{Path(e).stem}.html" for e in emls)
    assert "winback demo outbox" in dom


def one_email_per_rule(index: Path) -> dict[str, str]:
    """rule → the first email's ``html/...`` link, read off the index's rows."""
    found: dict[str, str] = {}
    for row in re.findall(r"<tr>(.*?)</tr>", index.read_text(encoding="utf-8"), flags=re.DOTALL):
        link = re.search(r'class="open" href="(html/[^"]+)"', row)
        rule = re.search(r'<span class="rule">([^<]+)</span>', row)
        if link and rule:
            found.setdefault(rule.group(1), link.group(1))
    return found


def test_one_email_of_each_rule_renders_with_its_content(chromium: Path, demo: DemoSummary, tmp_path: Path) -> None:
    assert demo.outbox is not None and demo.index is not None
    pages = one_email_per_rule(demo.index)
    assert set(pages) == {"auto_create_accounts", "back_to_bestsellers", "discount_codes"}, pages

    for rule, href in sorted(pages.items()):
        page = demo.outbox / href
        shot = screenshot(chromium, page, tmp_path / f"{rule}.png")
        dom = dump_dom(chromium, page, tmp_path / f"{rule}-dom")

        _, _, colours = distinct_colours(shot)
        assert colours > 100, f"the {rule} email's screenshot looks blank ({colours} distinct colours): {shot}"
        assert any(h.startswith("https://") for h in hrefs(dom)), f"the {rule} email has no link to the store"
        assert page.read_text(encoding="utf-8").count("<table") >= 1


REPORT_CHARTS = ("cohort-heatmap", "return-rate", "reorder-histogram", "revenue-over-time")
PHONE = (412, 2000)


def test_demo_report_renders_every_chart_offline_on_a_phone(chromium: Path, demo: DemoSummary, tmp_path: Path) -> None:
    """The demo's report.html in Chromium at a phone's width: the page and each of its charts
    (screenshotted alone, as the report draws it) are not blank, and nothing is fetched."""
    assert demo.report is not None and demo.report.is_file(), demo.render()
    html = demo.report.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "the report must not load anything"
    assert "<script" not in html

    page = tmp_path / "report.png"
    run_chromium(chromium, tmp_path / "report.profile", f"--screenshot={page}",
                 f"--window-size={PHONE[0]},{PHONE[1]}", demo.report.resolve().as_uri())
    width, height, colours = distinct_colours(page)
    assert (width, height) == PHONE and colours > 200, f"the report looks blank ({colours} colours): {page}"

    dom = dump_dom(chromium, demo.report, tmp_path / "report-dom")
    for name in REPORT_CHARTS:
        assert f'data-chart="{name}"' in dom, name
        chart = re.search(rf'<svg class="chart" data-chart="{name}".*?</svg>', html, flags=re.DOTALL)
        assert chart is not None, name
        alone = tmp_path / f"{name}.html"
        alone.write_text(f'<!doctype html><meta charset="utf-8"><body style="margin:0;width:400px">{chart.group(0)}',
                         encoding="utf-8")
        shot = tmp_path / f"{name}.png"
        run_chromium(chromium, tmp_path / f"{name}.profile", f"--screenshot={shot}", "--window-size=400,500",
                     alone.resolve().as_uri())
        _, _, chart_colours = distinct_colours(shot)
        assert chart_colours > 20, f"chart {name} looks blank ({chart_colours} colours): {shot}"
