"""report.html as a planner uses it: every clash marker visible, storeys in reading order, the total counted once,
no dead links, wide tables scrolling inside the page, a picture in every clash row."""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from cim.review import browser
from cim.review.report_html import render_html, write_html
from cim.review.siteplan import render_site_plan, spread_markers
from cim.review.storeys import natural_key, sort_storeys
from tests.test_review_report import CLASH_XYZ, sample_plan, sample_review

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.tables: list[str | None] = []  # class of each table's parent element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        for key in ("href", "src", "xlink:href"):
            if a.get(key) is not None:
                self.links.append((tag, key, a[key]))
        for value in a.values():  # SVG clip paths and markers: url(#id)
            for ref in re.findall(r"url\(#([^)]+)\)", value or ""):
                self.links.append((tag, "url()", "#" + ref))


def dead_links(page: Path) -> list[str]:
    """Every link or picture in a page that would not open from disk: a missing anchor or file, or the network."""
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    dead = []
    for tag, attr, value in parser.links:
        where = f"<{tag} {attr}={value[:60]!r}>"
        if value.startswith("#"):
            if unquote(value[1:]) not in parser.ids:
                dead.append(f"{where}: no element with that id")
        elif value.startswith("data:"):
            header, _, payload = value.partition(",")
            try:
                data = base64.b64decode(payload, validate=True) if header.endswith(";base64") else payload.encode()
            except binascii.Error:
                dead.append(f"{where}: data URI is not valid base64")
                continue
            if header.startswith("data:image/png") and not data.startswith(PNG_MAGIC):
                dead.append(f"{where}: data URI is not a PNG")
        elif urlsplit(value).scheme or value.startswith("//"):
            dead.append(f"{where}: needs a network or an absolute location")
        elif not (page.parent / unquote(urlsplit(value).path)).exists():
            dead.append(f"{where}: no such file next to the report")
    return dead


def tables_outside_a_scroller(html: str) -> int:
    """How many <table> elements are not the first child of a div.table-wrap."""
    return len(re.findall(r"<table", html)) - len(re.findall(r'<div class="table-wrap"><table', html))


def _marker_centres(svg: str, count: int) -> list[tuple[float, float]]:
    centres = []
    for n in range(1, count + 1):
        group = re.search(rf'<g id="plan-marker-{n}">(.*?)</text>', svg, re.S)
        assert group is not None, f"marker {n} is missing"
        x, y = re.search(r'<text[^>]*\bx="([\d.]+)" y="([\d.]+)"', group.group(1)).groups()
        centres.append((float(x), float(y)))
    return centres


# --------------------------------------------------------------------------- clash markers


def test_five_clashes_at_one_spot_get_five_visible_markers_and_a_count():
    plan = sample_plan()
    x, y, _ = plan.clash_points[0]
    plan.clash_points = [(x, y, f"c-{i}") for i in range(5)] + [(x + 40.0, y + 40.0, "lone")]
    svg = render_site_plan(plan)
    centres = _marker_centres(svg, 6)
    for i in range(6):
        for j in range(i + 1, 6):
            gap = math.dist(centres[i], centres[j])
            assert gap >= 14.0, f"markers {i + 1} and {j + 1} overlap ({gap:.1f} px apart)"
    cluster = re.search(r'<g id="plan-cluster-1">.*?<text[^>]*>([^<]*)</text>', svg, re.S)
    assert cluster is not None and cluster.group(1).strip() == "5"
    assert "plan-cluster-6" not in svg  # a lone clash keeps its spot and gets no count
    assert "Clashes at one spot (count)" in svg  # the legend explains the badge


def test_markers_fan_out_only_where_they_would_hide_each_other():
    layout = spread_markers([(100.0, 100.0), (100.0, 100.0), (103.0, 98.0), (300.0, 300.0)])
    offsets = [o for o, _home, _size in layout]
    assert [(home, size) for _o, home, size in layout] == [(0, 3), (0, 3), (0, 3), (3, 1)]
    assert offsets[3] == (0.0, 0.0) and len(set(offsets[:3])) == 3
    crowd = spread_markers([(0.0, 0.0)] * 20)  # more than one ring
    assert len({(round(dx, 3), round(dy, 3)) for (dx, dy), _h, _s in crowd}) == 20


# --------------------------------------------------------------------------- storeys


def test_storeys_sort_naturally_with_basements_first_deepest_first():
    names = ["L10", "L2", "Roof", "L1", "B1", "B2", "L11", "L3"]
    assert sorted(names, key=natural_key) == ["B2", "B1", "L1", "L2", "L3", "L10", "L11", "Roof"]
    assert sorted(["Level 10", "Level 9", "level 1"], key=natural_key) == ["level 1", "Level 9", "Level 10"]
    assert sorted(["Bridge 2", "Basement 1", "Basement 2", "Bridge 10"], key=natural_key) == \
        ["Basement 2", "Basement 1", "Bridge 2", "Bridge 10"]
    gfa = {"L1": 1.0, "L10": 2.0, "L2": 3.0, "B1 (below ground: not counted in FAR)": 4.0}
    assert list(sort_storeys(gfa)) == ["B1 (below ground: not counted in FAR)", "L1", "L2", "L10"]


# --------------------------------------------------------------------------- timings


def test_the_timings_total_is_the_review_s_total_counted_once():
    review = sample_review()
    review.timings = {"open": 1.0, "ingest": 2.0, "other": 0.5, "total": 3.5}
    html = render_html(review)
    section = html.split('<section id="timings">', 1)[1].split("</section>", 1)[0]
    steps = re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">([\d.]+)</td></tr>", section)
    assert [s for s, _ in steps] == ["open", "ingest", "other"]
    total = re.search(r"<strong>Total</strong></td><td class=\"num\"><strong>([\d.]+)<", section).group(1)
    assert total == "3.50" == f"{sum(float(v) for _, v in steps):.2f}"
    review.timings.pop("total")  # an older review without a recorded total: its steps, summed once
    assert re.search(r"<strong>Total</strong></td><td class=\"num\"><strong>3.50<", render_html(review))


# --------------------------------------------------------------------------- links and layout


def test_the_sample_report_has_no_dead_links(tmp_path):
    page = write_html(sample_review(), tmp_path / "report.html")
    assert dead_links(page) == []
    passing = sample_review()
    passing.clashes, passing.site_plan.clash_points = [], []  # a plan and no clash list: no link to one
    page = write_html(passing, tmp_path / "passing.html")
    assert dead_links(page) == []


def test_the_link_checker_finds_a_missing_anchor_a_missing_file_and_the_network(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<p id="here"></p><a href="#here">ok</a><a href="#gone">x</a><img src="nope.png">'
                    '<img src="https://example.org/x.png"><img src="data:image/png;base64,aGVsbG8=">',
                    encoding="utf-8")
    assert len(dead_links(page)) == 4


def test_every_table_sits_in_a_horizontal_scroller():
    html = render_html(sample_review())
    assert tables_outside_a_scroller(html) == 0 and html.count('<div class="table-wrap">') >= 4
    assert re.search(r"\.table-wrap \{[^}]*overflow-x: auto", html)


def _wide_review():
    review = sample_review(a_name="Supply-air-duct-" + "x" * 160)
    review.clashes[0].a_global_id = "G" * 120
    review.checks[1].message = "Height " + "9" * 200
    review.quantities["counts"] = {f"IfcVeryLongClassNameNumber{i}" * 3: i for i in range(3)}
    return review


@pytest.mark.slow
def test_wide_tables_scroll_inside_the_page_in_headless_chromium(tmp_path):
    if browser.find_chromium() is None:
        pytest.skip("no headless Chromium (apt-get install -y chromium)")
    page = write_html(_wide_review(), tmp_path / "report.html")
    scroll, view = browser.page_width(page, 700)
    assert view == pytest.approx(700, abs=20)
    assert scroll <= view, f"the page scrolls sideways: {scroll} px of content in a {view} px window"


# --------------------------------------------------------------------------- snapshots


def _png(width: int = 4, height: int = 3) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_each_clash_row_shows_its_snapshot_inline(tmp_path):
    review = sample_review()
    png = _png()
    page = write_html(review, tmp_path / "report.html", snapshots={"clash-1": png, "t-1": png})
    html = page.read_text(encoding="utf-8")
    rows = re.findall(r'<tr class="clash".*?</tr>', html, re.S)
    assert len(rows) == 2
    for row in rows:
        src = re.search(r'<img src="(data:image/png;base64,[^"]+)"', row).group(1)
        assert base64.b64decode(src.split(",", 1)[1]) == png
    assert dead_links(page) == []
    assert CLASH_XYZ  # the rows are the sample's clashes
