"""The planning review's outputs: report.html (self-contained, escaped, opened in headless Chromium), report.json
(valid against schemas/review_report.schema.json) and the site-plan SVG, all byte-stable."""

from __future__ import annotations

import json
import re
import stat
from html.parser import HTMLParser
from pathlib import Path

import pytest
import shapely

from cim.review import browser
from cim.review.model import FAIL, NOT_APPLICABLE, PASS, CheckResult, ClashItem, Review, SitePlan
from cim.review.report_html import fmt, write_html
from cim.review.report_json import render_json, report_dict, write_json
from cim.review.siteplan import render_site_plan, view_bounds

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "schemas" / "review_report.schema.json"
CITY_GPKG = ROOT / "sample_models" / "city.gpkg"

# Parcel BH-02 and the avenue/tunnel of the sample city (cim/samples/layout.py).
PARCEL = shapely.box(464_560.0, 2_865_720.0, 464_700.0, 2_865_870.0)
FOOTPRINT = shapely.box(464_585.0, 2_865_725.0, 464_625.0, 2_865_760.0)  # 5 m from the south edge: setback fails
BASEMENT = shapely.box(464_580.0, 2_865_720.5, 464_640.0, 2_865_765.0)
TUNNEL = shapely.box(464_350.0, 2_865_708.0, 465_350.0, 2_865_718.0)
ZONE = shapely.box(464_350.0, 2_865_705.0, 465_350.0, 2_865_721.0)
CLASH_XYZ = (464_605.0, 2_865_742.5, 17.2)
TUNNEL_XYZ = (464_610.0, 2_865_720.5, 0.6)


def sample_plan(label_suffix: str = "") -> SitePlan:
    return SitePlan(
        parcel=PARCEL.wkb, setback_line=PARCEL.buffer(-8.0, join_style="mitre").wkb,
        red_lines=[shapely.box(464_350.0, 2_865_680.0, 465_350.0, 2_865_720.0).wkb],
        footprint=FOOTPRINT.wkb, basement=BASEMENT.wkb,
        neighbours=[shapely.box(464_430.0, 2_865_745.0, 464_520.0, 2_865_800.0).wkb,
                    shapely.box(464_720.0, 2_865_760.0, 464_800.0, 2_865_830.0).wkb],
        tunnel=TUNNEL.wkb, protection_zone=ZONE.wkb,
        pipelines=[shapely.LineString([(464_350.0, 2_865_695.0), (465_350.0, 2_865_695.0)]).wkb],
        clash_points=[(CLASH_XYZ[0], CLASH_XYZ[1], "clash-1" + label_suffix), (TUNNEL_XYZ[0], TUNNEL_XYZ[1], "t-1")],
    )


def sample_review(model_id: str = "submission-violating", a_name: str = "L4 supply air duct riser-offset 2-3/A-B",
                  model_path: str = "sample_models/submissions/violating.ifc") -> Review:
    checks = [
        CheckResult("inside_parcel", "Inside the parcel", PASS, 0.0, 0.0, "m", "<=", "The building lies inside BH-02"),
        CheckResult("height", "Building height", FAIL, 50.4, 45.0, "m", "<=", "Height 50.4 m exceeds the 45 m limit"),
        CheckResult("setback", "Setback from the parcel boundary", FAIL, 5.0, 8.0, "m", ">=",
                    "The footprint is 5 m from the south boundary; at least 8 m is required"),
        CheckResult("far", "Floor area ratio", PASS, 0.7922, 3.0, "ratio", "<=", "FAR 0.79 is within 3.0"),
        CheckResult("coverage", "Site coverage", PASS, 0.0566, 0.45, "ratio", "<=", "Coverage 5.7 % is within 45 %"),
        CheckResult("tunnel_protection", "Utility tunnel protection zone", FAIL, 2.5, 3.0, "m", ">=",
                    "The basement is 2.5 m from the tunnel's outer wall; 3 m is protected",
                    details=[{"element": "IfcWall", "global_id": "3xYz", "distance_m": 2.5}]),
        CheckResult("internal_clash", "Internal clashes", FAIL, 1, 0, "count", "<=", "1 hard clash",
                    details=[{"a": a_name, "b": "L4 beam 2-3/B"}]),
        CheckResult("pipelines", "Pipelines", NOT_APPLICABLE, message="No pipeline crosses the parcel"),
    ]
    clashes = [
        ClashItem("clash-1", "duct-beam", "intersection", "major", "21R1Zw0FjIXOWvXXweP6w_", "IfcDuctSegment", a_name,
                  "2YTNcxDCDL4xPSv0gfCzzI", "IfcBeam", "L4 beam 2-3/B", model_id, "Level 4", 0.15, None, *CLASH_XYZ),
        ClashItem("t-1", "tunnel-protection", "clearance", "critical", "0aBc", "IfcWall", "Basement wall S", None,
                  "IfcCivilElement", "protection zone", "layer:tunnel", "Basement", None, 2.5, *TUNNEL_XYZ,
                  chainage="K0+260.0", check_id="tunnel_protection"),
    ]
    return Review(
        model_path=model_path, model_id=model_id, verdict=FAIL, exit_code=1, parcel_id="BH-02", crs="EPSG:4549",
        checks=checks, clashes=clashes,
        quantities={"gfa_per_storey": {f"Level {i}": 1188.25 for i in range(1, 15)},
                    "counts": {"IfcWall": 168, "IfcSlab": 15, "IfcDuctSegment": 42},
                    "main": {"footprint_area_m2": 1188.25, "gross_floor_area_m2": 16635.5, "height_m": 50.4}},
        site_plan=sample_plan(), timings={"open": 0.42, "georef": 0.05, "checks": 1.3, "clash": 2.1},
        generated_at="2025-06-01T08:30:00Z", code_version="0.1.0",
    )


def error_review() -> Review:
    return Review(model_path="inbox/broken <v2>.ifc", model_id=None, verdict="error", exit_code=2,
                  reason="The file is not an IFC file: no ISO-10303-21 header (export it again as IFC)",
                  site_plan=sample_plan(), generated_at="2025-06-01T08:30:00Z", code_version="0.1.0")


class _Tags(HTMLParser):
    """Every start tag with its attributes, to check what a browser would fetch."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_the_failing_review_page_carries_the_verdict_hook_and_one_row_per_check(tmp_path):
    html = write_html(sample_review(), tmp_path / "report.html").read_text(encoding="utf-8")
    assert re.search(r'<div id="verdict" class="verdict verdict-fail" data-verdict="fail"', html)
    for check_id in ("height", "setback", "tunnel_protection", "internal_clash"):
        assert f'<tr class="check fail" data-check="{check_id}">' in html
    for check_id in ("inside_parcel", "far", "coverage"):
        assert f'<tr class="check pass" data-check="{check_id}">' in html
    assert '<tr class="check not_applicable" data-check="pipelines">' in html
    assert "4 of 7 applicable checks failed" in html
    height_row = html.split('data-check="height">', 1)[1].split("</tr>", 1)[0]
    assert ">50.4<" in height_row and "\u2264 45" in height_row and "FAIL" in height_row
    assert "1,188.25" in html and "16,635.5" in html and "Total" in html  # GFA table with a total row
    assert "K0+260.0" in html and "2,865,742.5" in html  # clash chainage and northing


def test_each_clash_links_to_its_numbered_marker_in_the_site_plan(tmp_path):
    html = write_html(sample_review(), tmp_path / "report.html").read_text(encoding="utf-8")
    svg_ids = set(re.findall(r'<g id="(plan-marker-\d+)"', html))
    links = re.findall(r'<tr class="clash" id="clash-(\d+)" data-clash-id="([^"]+)".*?href="#(plan-marker-\d+)"',
                       html, flags=re.S)
    assert links == [("1", "clash-1", "plan-marker-1"), ("2", "t-1", "plan-marker-2")]
    assert svg_ids == {"plan-marker-1", "plan-marker-2"}
    data = report_dict(sample_review())
    assert [c["plan_marker"] for c in data["clashes"]] == [1, 2]


def test_a_clash_without_a_labelled_marker_is_matched_by_position():
    review = sample_review()
    review.site_plan = sample_plan(label_suffix="-renamed")
    assert [c["plan_marker"] for c in report_dict(review)["clashes"]] == [1, 2]


def test_model_supplied_text_is_escaped_everywhere_in_the_page(tmp_path):
    evil = '<script>alert("x")</script> & "quoted" \'single\''
    review = sample_review(model_id='sub<b>&"id"', a_name=evil, model_path='inbox/a<b>&c".ifc')
    review.checks[1].message = "Height <50.4> & more"
    html = write_html(review, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;quoted&#34; &#39;single&#39;" in html
    assert "Height &lt;50.4&gt; &amp; more" in html
    assert "inbox/a&lt;b&gt;&amp;c&#34;.ifc" in html
    assert 'data-clash-id="clash-1"' in html
    assert not [t for t, _ in tags_of(html) if t in ("script", "b")]


def test_the_page_is_self_contained_with_no_fetches(tmp_path):
    html = write_html(sample_review(), tmp_path / "report.html").read_text(encoding="utf-8")
    tags = tags_of(html)
    assert not [t for t, _ in tags if t in ("script", "link", "img", "iframe", "object", "embed")]
    refs = [v for _, attrs in tags for k, v in attrs.items() if k in ("src", "href", "xlink:href") and v]
    assert refs and all(v.startswith("#") for v in refs), refs
    assert "@import" not in html and "url(http" not in html and "@font-face" not in html
    assert "<svg" in html and "<?xml" not in html and "<!DOCTYPE svg" not in html
    assert "@media print" in html


def test_a_review_that_could_not_run_shows_the_reason_and_no_plan(tmp_path):
    html = write_html(error_review(), tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'data-verdict="error"' in html and 'id="verdict"' in html
    assert "COULD NOT BE REVIEWED" in html
    assert "The file is not an IFC file: no ISO-10303-21 header" in html
    assert "inbox/broken &lt;v2&gt;.ifc" in html
    assert "<svg" not in html and 'id="site-plan"' not in html
    assert 'data-exit-code="2"' in html
    assert report_dict(error_review())["site_plan"] is None


def _validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_report_json_is_valid_against_its_schema_and_carries_geojson_in_the_city_crs(tmp_path):
    validator = _validator()
    data = json.loads(write_json(sample_review(), tmp_path / "report.json").read_text(encoding="utf-8"))
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    assert data["schema_version"] == "1.0" and data["verdict"] == "fail" and data["exit_code"] == 1
    assert data["summary"]["failed_checks"] == ["height", "setback", "tunnel_protection", "internal_clash"]
    height = next(c for c in data["checks"] if c["check_id"] == "height")
    assert height["measured"] == pytest.approx(50.4) and height["allowed"] == pytest.approx(45.0)
    parcel = data["site_plan"]["parcel"]
    assert parcel["type"] == "Polygon"
    xs = [p[0] for p in parcel["coordinates"][0]]
    ys = [p[1] for p in parcel["coordinates"][0]]
    assert (min(xs), max(xs), min(ys), max(ys)) == (464_560.0, 464_700.0, 2_865_720.0, 2_865_870.0)
    assert shapely.geometry.shape(data["site_plan"]["footprint"]).area == pytest.approx(FOOTPRINT.area, abs=1e-6)
    assert data["site_plan"]["pipelines"][0]["type"] == "LineString"
    assert data["site_plan"]["clash_points"][1] == {"marker": 2, "label": "t-1", "x": 464_610.0, "y": 2_865_720.5}


def test_an_error_report_and_non_finite_numbers_still_validate(tmp_path):
    validator = _validator()
    review = sample_review()
    review.checks[0].measured = float("nan")
    review.timings["clash"] = float("inf")
    for r in (error_review(), review):
        data = json.loads(render_json(r))
        assert not list(validator.iter_errors(data))
    assert json.loads(render_json(review))["checks"][0]["measured"] is None
    with pytest.raises(Exception, match="verdict"):
        validator.validate({**json.loads(render_json(error_review())), "verdict": "maybe"})


def test_the_same_review_gives_the_same_bytes_every_time(tmp_path):
    first_html = write_html(sample_review(), tmp_path / "a.html").read_bytes()
    second_html = write_html(sample_review(), tmp_path / "b.html").read_bytes()
    assert first_html == second_html
    assert write_json(sample_review(), tmp_path / "a.json").read_bytes() == \
        write_json(sample_review(), tmp_path / "b.json").read_bytes()
    svg = render_site_plan(sample_plan())
    assert svg == render_site_plan(sample_plan())
    assert "<dc:date>" not in svg and "Date" not in svg


def test_writes_are_atomic_replace_an_old_report_and_leave_no_temp_files(tmp_path):
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    target.write_text("old", encoding="utf-8")
    write_html(sample_review(), target)
    write_json(sample_review(), tmp_path / "out" / "report.json")
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html", "report.json"]
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert stat.S_IMODE((tmp_path / "out" / "report.json").stat().st_mode) == 0o644


def test_the_site_plan_is_searchable_svg_with_legend_scale_and_north_arrow():
    svg = render_site_plan(sample_plan(), size_px=(1200, 900))
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert re.search(r'width="864pt" height="648pt"', svg)  # 1200 x 900 px at 100 dpi
    for text in ("Parcel", "Setback line", "Road red line", "Submission footprint", "Basement outline",
                 "Existing building", "Utility tunnel", "Tunnel protection zone", "Pipeline", "Clash point",
                 "Easting (m, EPSG:4549)", "Northing (m, EPSG:4549)", "50 m", ">N<", "464,600"):
        assert text in svg, text


def test_the_plan_zooms_to_the_parcel_and_pulls_in_the_tunnel_zone_beside_it():
    x0, y0, x1, y1 = view_bounds(sample_plan())
    assert x0 < 464_560.0 and x1 > 464_700.0 and y0 < 2_865_705.0 and y1 > 2_865_870.0
    assert x1 - x0 < 400.0  # the 1 km tunnel is cut to the parcel's neighbourhood
    far = sample_plan()
    far.tunnel = shapely.affinity.translate(TUNNEL, 0, -500).wkb
    far.protection_zone = shapely.affinity.translate(ZONE, 0, -500).wkb
    assert view_bounds(far)[1] > 2_865_650.0  # a tunnel 500 m away does not widen the view


def test_a_plan_without_geometry_still_renders_a_notice():
    assert "No site-plan geometry" in render_site_plan(SitePlan())


def test_the_site_plan_draws_the_sample_city_layers_around_parcel_bh02():
    if not CITY_GPKG.exists():
        pytest.skip("sample_models/city.gpkg is not present")
    import geopandas as gpd

    parcels = gpd.read_file(CITY_GPKG, layer="parcels")
    bh02 = parcels.loc[parcels["parcel_id"] == "BH-02", "geometry"].iloc[0]
    assert bh02.bounds == pytest.approx((464_560.0, 2_865_720.0, 464_700.0, 2_865_870.0), abs=1e-6)
    near = bh02.buffer(150.0)
    layers = {name: [g.wkb for g in gpd.read_file(CITY_GPKG, layer=name).geometry if g.intersects(near)]
              for name in ("road_redlines", "buildings_existing", "pipelines")}
    plan = SitePlan(parcel=bh02.wkb, setback_line=bh02.buffer(-8.0, join_style="mitre").wkb,
                    red_lines=layers["road_redlines"], neighbours=layers["buildings_existing"],
                    pipelines=layers["pipelines"], footprint=FOOTPRINT.wkb, tunnel=TUNNEL.wkb,
                    protection_zone=ZONE.wkb)
    assert layers["road_redlines"] and layers["buildings_existing"]
    svg = render_site_plan(plan)
    assert "Road red line" in svg and "Existing building" in svg
    data = json.loads(render_json(Review("x.ifc", "m", PASS, 0, site_plan=plan, crs="EPSG:4549")))
    assert len(data["site_plan"]["neighbours"]) == len(layers["buildings_existing"])


def test_numbers_read_like_a_planner_writes_them():
    assert [fmt(50.4), fmt(45.0), fmt(0.0566), fmt(16635.5), fmt(2_865_742.5), fmt(168), fmt(None)] == \
        ["50.4", "45", "0.0566", "16,635.5", "2,865,742.5", "168", "\u2013"]


@pytest.fixture(scope="module")
def chromium() -> str:
    exe = browser.find_chromium()
    if exe is None:
        pytest.skip("no headless Chromium (apt-get install -y chromium)")
    return exe


@pytest.mark.slow
def test_the_failing_report_renders_in_headless_chromium(chromium, tmp_path):
    from PIL import Image, ImageStat

    page = write_html(sample_review(), tmp_path / "report.html")
    dom = browser.dump_dom(page)
    assert re.search(r'id="verdict"[^>]*data-verdict="fail"', dom)
    assert "FAIL" in dom and "Height 50.4 m exceeds the 45 m limit" in dom
    failing = re.findall(r'<tr class="check fail" data-check="([a-z_]+)">', dom)
    assert failing == ["height", "setback", "tunnel_protection", "internal_clash"]

    sizes = browser.rendered_sizes(page, {"plan": "#site-plan svg", "verdict": "#verdict",
                                          "height_row": 'tr[data-check="height"]', "missing": "#nope"})
    plan_w, plan_h = sizes["plan"]
    assert plan_w > 600 and plan_h > 400 and plan_h / plan_w == pytest.approx(0.75, abs=0.02)
    assert sizes["verdict"][0] > 600 and sizes["verdict"][1] > 40
    assert sizes["height_row"][1] > 10 and sizes["missing"] is None

    png = browser.screenshot(page, tmp_path / "report.png", size=(1280, 2400))
    with Image.open(png) as img:
        assert img.size == (1280, 2400)
        rgb = img.convert("RGB")
        assert max(ImageStat.Stat(rgb).var) > 500.0  # not a blank page
        banner = rgb.crop((40, 80, 400, 140))  # the red FAIL banner at the top
        r, g, b = ImageStat.Stat(banner).mean
        assert r > 120 and g < 60 and b < 80


@pytest.mark.slow
def test_the_error_report_renders_in_headless_chromium_without_a_plan(chromium, tmp_path):
    page = write_html(error_review(), tmp_path / "report.html")
    dom = browser.dump_dom(page)
    assert re.search(r'id="verdict"[^>]*data-verdict="error"', dom)
    assert "COULD NOT BE REVIEWED" in dom and "no ISO-10303-21 header" in dom
    assert browser.rendered_sizes(page, {"plan": "#site-plan svg"})["plan"] is None
