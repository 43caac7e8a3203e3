"""`cim review` end to end on the sample submissions: verdicts, exit codes, outputs, and bad inputs."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import tomllib
import zipfile

import pytest
from typer.testing import CliRunner

from cim.cli import app
from cim.view.view3d import three_files
from tests.conftest import SAMPLES, fixture_path
from tests.models import add_wall, new_model, write

EXPECTED = tomllib.loads((SAMPLES / "submissions" / "expected.toml").read_text(encoding="utf-8"))
runner = CliRunner()


def _review(sample_city, model, out, *extra):
    store, config, _ = sample_city
    result = runner.invoke(app, ["review", str(model), "--store", str(store.root), "--config", str(config.path),
                                 "--out", str(out), *extra])
    report = json.loads((out / "report.json").read_text(encoding="utf-8")) if (out / "report.json").exists() else None
    return result, report


@pytest.fixture(scope="module")
def violating(sample_city, tmp_path_factory):
    out = tmp_path_factory.mktemp("v") / "out"
    return (*_review(sample_city, SAMPLES / "submissions" / "violating.ifc", out), out)


@pytest.fixture(scope="module")
def compliant(sample_city, tmp_path_factory):
    """The compliant model copied to a path with spaces and unusual characters."""
    folder = tmp_path_factory.mktemp("c") / "Plan submissions (2026) #3 & ü"
    folder.mkdir()
    model = folder / "Haixia tower – rev A.ifc"
    shutil.copy(SAMPLES / "submissions" / "compliant.ifc", model)
    out = folder / "review out"
    return (*_review(sample_city, model, out), folder, out)


def _statuses(report) -> dict[str, str]:
    return {c["check_id"]: c["status"] for c in report["checks"]}


def test_the_violating_submission_fails_on_exactly_its_planted_violations(violating):
    result, report, _ = violating
    assert result.exit_code == 1, result.output
    failed = {k for k, v in _statuses(report).items() if v == "fail"}
    assert failed == set(EXPECTED["violating"]["fails"])
    assert report["verdict"] == "fail" and report["parcel_id"] == "BH-02"


def test_the_violating_submission_s_measures_match_the_planted_values(violating):
    checks = {c["check_id"]: c for c in violating[1]["checks"]}
    measured = EXPECTED["violating"]["measured"]
    assert checks["height"]["measured"] == pytest.approx(measured["height_m"], abs=0.01)
    assert checks["setback"]["measured"] == pytest.approx(measured["min_setback_m"], abs=0.01)
    assert checks["far"]["measured"] == pytest.approx(measured["far"], abs=1e-4)
    assert checks["tunnel_protection"]["measured"] == pytest.approx(measured["basement_to_tunnel_outer_wall_m"],
                                                                    abs=0.01)


def test_the_violating_submission_s_clashes_are_the_planted_one_and_the_tunnel_zone(violating):
    clashes = violating[1]["clashes"]
    internal = [c for c in clashes if c["check_id"] == "internal_clash"]
    planted = EXPECTED["violating"]["clashes"][0]
    assert len(internal) == 1
    assert {internal[0]["a_global_id"], internal[0]["b_global_id"]} == {planted["a_guid"], planted["b_guid"]}
    zone = [c for c in clashes if c["check_id"] == "tunnel_protection"]
    assert zone and all(c["chainage"].startswith("K0+") for c in zone)


def test_the_violating_submission_gets_bcf_topics_selecting_the_clashing_elements(violating):
    from bcf import bcfxml

    planted = EXPECTED["violating"]["clashes"][0]
    with bcfxml.load(violating[2] / "clashes.bcfzip") as bcf:
        selected = [{c.ifc_guid for c in next(iter(t.viewpoints.values())).visualization_info.components.selection
                     .component} for t in bcf.topics.values()]
    assert len(selected) >= 2  # the internal clash, and the basement elements in the tunnel zone
    assert {planted["a_guid"], planted["b_guid"]} in selected


def test_every_failed_check_is_visible_in_the_report_in_a_real_headless_browser(violating):
    from cim.review.browser import dump_dom, find_chromium, screenshot

    if find_chromium() is None:
        pytest.skip("no chromium on this machine (CI installs Debian's chromium)")
    html = violating[2] / "report.html"
    dom = dump_dom(html)
    for check_id in EXPECTED["violating"]["fails"]:
        assert f'class="check fail" data-check="{check_id}"' in dom
    assert 'data-verdict="fail"' in dom and "<svg" in dom
    from cim.review.browser import page_width

    scroll, view = page_width(html, 900)  # a laptop window: wide tables scroll inside their box, not the page
    assert scroll <= view, f"the page scrolls sideways: {scroll} px of content in a {view} px window"
    png = screenshot(html, violating[2] / "report.png", size=(1280, 1800))
    from PIL import Image, ImageStat

    with Image.open(png) as img:
        assert img.size == (1280, 1800)
        assert max(ImageStat.Stat(img.convert("L")).var) > 500  # not a blank page


def test_each_clash_row_of_the_violating_report_shows_its_snapshot_inline(violating):
    from PIL import Image

    html = (violating[2] / "report.html").read_text(encoding="utf-8")
    rows = re.findall(r'<tr class="clash".*?</tr>', html, re.S)
    assert len(rows) == len(violating[1]["clashes"]) >= 2
    for row in rows:
        src = re.search(r'<img src="data:image/png;base64,([^"]+)"', row)
        assert src is not None, row[:200]
        with Image.open(io.BytesIO(base64.b64decode(src.group(1)))) as img:
            assert img.size == (320, 240)


@pytest.mark.parametrize("which", ["violating", "compliant"])
def test_the_real_reports_have_no_dead_links_and_every_table_scrolls_inside_the_page(which, violating, compliant):
    from tests.test_review_page import dead_links, tables_outside_a_scroller

    out = violating[2] if which == "violating" else compliant[3]
    page = out / "report.html"
    assert dead_links(page) == []
    assert tables_outside_a_scroller(page.read_text(encoding="utf-8")) == 0


@pytest.mark.parametrize("which", ["violating", "compliant"])
def test_the_real_reports_list_storeys_in_natural_order_and_count_the_total_time_once(which, violating, compliant):
    report = violating[1] if which == "violating" else compliant[1]
    storeys = [k.split(" ")[0] for k in report["quantities"]["gfa_per_storey"]]
    top = EXPECTED[which]["storeys"]
    assert storeys == ["B1", *[f"L{i}" for i in range(1, top + 1)]]
    timings = dict(report["timings"])
    total = timings.pop("total")
    assert sum(timings.values()) == pytest.approx(total, abs=0.001 * len(timings))
    html = ((violating[2] if which == "violating" else compliant[3]) / "report.html").read_text(encoding="utf-8")
    assert html.count("<td>total</td>") == 0
    assert f"<strong>{total:.2f}</strong>" in html


def test_the_compliant_submission_passes_from_a_path_with_spaces_and_unusual_characters(compliant):
    result, report, folder, out = compliant
    assert result.exit_code == 0, result.output
    assert set(_statuses(report).values()) <= {"pass", "not_applicable"}
    view3d = ["view3d.html"] if three_files() else []  # the 3-D view, when the front end is installed
    assert sorted(p.name for p in out.iterdir()) == ["clashes.bcfzip", "report.html", "report.json", *view3d]
    assert sorted(p.name for p in folder.iterdir()) == ["Haixia tower – rev A.ifc", "review out"]


def test_the_compliant_submission_s_bcf_file_is_a_valid_empty_bcf(compliant):
    names = zipfile.ZipFile(compliant[3] / "clashes.bcfzip").namelist()
    assert "bcf.version" in names and "project.bcfp" in names


def test_the_report_json_validates_against_its_documented_schema(violating, compliant):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SAMPLES.parent / "schemas" / "review_report.schema.json").read_text(encoding="utf-8"))
    for report in (violating[1], compliant[1]):
        jsonschema.validate(report, schema)


@pytest.mark.parametrize("case", ["empty", "not_ifc", "no_georef", "outside_parcels", "missing", "no_elements",
                                  "unsupported"])
def test_a_model_that_cannot_be_reviewed_exits_2_with_one_clear_line_and_a_report(sample_city, tmp_path, case):
    model = tmp_path / f"{case}.ifc"
    if case == "empty":
        model.write_bytes(b"")
    elif case == "not_ifc":
        model.write_text("this is not an IFC file\n")
    elif case == "no_georef":
        f, ctx = new_model(georef=False)
        add_wall(f, ctx, name="W")
        write(f, model)
    elif case == "no_elements":  # a valid, georeferenced IFC with a building but nothing built
        f, _ = new_model()
        write(f, model)
    elif case == "unsupported":
        model = fixture_path("broken/IFCTunnelDep3_Sys.ifc")
    elif case == "outside_parcels":  # on Binhai Avenue's carriageway, inside the city but on no parcel
        f, ctx = new_model(eastings=464_900.0, northings=2_865_700.0)
        add_wall(f, ctx, name="W")
        write(f, model)
    result, report = _review(sample_city, model, tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert report["verdict"] == "error" and report["reason"]
    assert str(model.name) in report["reason"] or case == "missing"
    assert (tmp_path / "out" / "report.html").exists()


def test_accept_ingests_the_submission_into_the_city_as_a_plan_phase_version(sample_city, tmp_path):
    store, config, _ = sample_city
    city = tmp_path / "city"
    shutil.copytree(store.root, city)
    result = runner.invoke(app, ["review", str(SAMPLES / "submissions" / "compliant.ifc"), "--store", str(city),
                                 "--config", str(config.path), "--out", str(tmp_path / "out"), "--accept"])
    assert result.exit_code == 0, result.output
    from cim.store import Store

    accepted = Store(city, create=False).latest("submission-compliant")
    assert accepted is not None and accepted["phase"] == "plan"
    assert Store(store.root, create=False).latest("submission-compliant") is None  # the original city untouched
    assert json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))["revision"] is None

    # the same building reviewed again is a revision of the accepted one, not an overlap with itself
    result = runner.invoke(app, ["review", str(SAMPLES / "submissions" / "compliant.ifc"), "--store", str(city),
                                 "--config", str(config.path), "--out", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "again" / "report.json").read_text(encoding="utf-8"))
    assert report["revision"]["model_id"] == "submission-compliant" and report["revision"]["version"] == 1
    overlap = next(c for c in report["checks"] if c["check_id"] == "overlap_existing")
    assert overlap["status"] == "pass" and overlap["measured"] == 0.0
    assert "revision of submission-compliant v1: compared against the city without it" in overlap["message"]


def test_a_revision_of_a_city_building_is_compared_against_the_city_without_it(sample_city, tmp_path):
    # haixia_office.ifc is in the city (model haixia-office, and feature haixia-office of buildings_existing,
    # 675 m2): reviewed again it used to "overlap 675 m2 of existing buildings", itself
    result, report = _review(sample_city, SAMPLES / "buildings" / "haixia_office.ifc", tmp_path / "out")
    assert report["revision"] == {"model_id": "haixia-office", "version": 1, "matched_by": "model id",
                                  "excluded": ["haixia-office"],
                                  "message": "revision of haixia-office v1: compared against the city without it"}
    overlap = next(c for c in report["checks"] if c["check_id"] == "overlap_existing")
    assert overlap["status"] == "pass" and overlap["measured"] == 0.0, overlap["message"]
    assert all(d["building_id"] != "haixia-office" for d in overlap["details"])
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "revision of haixia-office v1: compared against the city without it" in html
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SAMPLES.parent / "schemas" / "review_report.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(report, schema)
