"""The planner review's validity and site checks, measured on the sample city and its two submissions."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import ifcopenshell
import ifcopenshell.api
import pytest
import shapely
from ifctester import ids as idslib
from shapely import affinity
from shapely.geometry import box

from cim.config import load_config
from cim.errors import InputError
from cim.gis import arrow_to_frame
from cim.ingest.run import ingest_file
from cim.review import site
from cim.review.model import FAIL, NOT_APPLICABLE, PASS
from cim.review.revision import existing_buildings, find_revision
from cim.review.site_footprint import above_ground_floor_area, above_ground_footprint, below_ground_footprint
from cim.review.validity import IDS_FILES, check_ids, city_extent_from, georef_checks, ids_file_for
from cim.store import Store
from tests.conftest import SAMPLES
from tests.models import add_wall, new_model, write

IDS_PATH = ids_file_for("IFC4")
IDS_2X3 = ids_file_for("IFC2X3")
SUBMISSIONS = SAMPLES / "submissions"
EXPECTED = tomllib.loads((SUBMISSIONS / "expected.toml").read_text(encoding="utf-8"))
KEYS = ("compliant", "violating")
LAYERS = ("parcels", "road_redlines", "buildings_existing")


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """The sample city's layers and both submissions, ingested once with the project's own ingest."""
    config = load_config(SAMPLES / "cim.toml")
    store = Store(tmp_path_factory.mktemp("review") / "store", config.crs)
    for path in (SAMPLES / "city.gpkg", SUBMISSIONS / "compliant.ifc", SUBMISSIONS / "violating.ifc"):
        outcome = ingest_file(store, config, path, workers=2)
        assert outcome.action == "ingested", outcome.message
    layers = {name: arrow_to_frame(store.read(name), config.crs) for name in LAYERS}
    return store, layers, config.ground_elevation_m


def _submission(city, key: str) -> dict:
    store, layers, ground = city
    elements = store.read_model("elements", key)
    (building,) = store.read_model("buildings", key).to_pylist()
    footprint = above_ground_footprint(elements, ground)
    parcel = site.find_parcel(footprint, layers["parcels"])
    return {"elements": elements, "building": building, "footprint": footprint, "parcel": parcel,
            "layers": layers, "ground": ground, "store": store}


# --------------------------------------------------------------------------- IDS


@pytest.mark.parametrize("schema", sorted(IDS_FILES))
def test_each_review_ids_file_is_valid_ids_1_0_and_holds_only_its_own_schema(schema):
    path = ids_file_for(schema)
    idslib.get_schema().validate(str(path))  # raises on any XSD violation
    spec_set = idslib.open(str(path), validate=True)
    names = [s.name for s in spec_set.specifications]
    assert {"Storeys are named", "Spaces declare their use", "Building elements have a material"} <= set(names)
    version = "IFC4X3_ADD2" if schema == "IFC4X3" else schema
    assert all(s.ifcVersion == [version] for s in spec_set.specifications)


@pytest.mark.parametrize("key", KEYS)
def test_both_sample_submissions_meet_every_information_requirement(key):
    result = check_ids(ifcopenshell.open(str(SUBMISSIONS / f"{key}.ifc")), IDS_PATH)
    assert result.check_id == "ids" and result.status == PASS, result.details
    assert result.measured == 0 and not result.details


def test_the_ifc2x3_sample_building_is_judged_by_its_georeferencing_property_sets(monkeypatch):
    import ifcopenshell.api.owner.settings as owner_settings

    # tests.models patches these module globals for IFC2X3 and never restores them: undo it after this test
    monkeypatch.setattr(owner_settings, "get_user", owner_settings.get_user)
    monkeypatch.setattr(owner_settings, "get_application", owner_settings.get_application)
    result = check_ids(ifcopenshell.open(str(SAMPLES / "buildings" / "residential_block_b_ifc2x3.ifc")), IDS_2X3)
    assert result.status == PASS, result.details
    bare, _ctx = new_model("IFC2X3", georef=False)
    failing = [d["specification"] for d in check_ids(bare, IDS_2X3).details]
    assert failing == ["IFC2X3 georeferencing property sets"]
    placed, _ctx = new_model("IFC2X3")  # ePSet values written as IfcReal by ifcopenshell.api: accepted
    assert check_ids(placed, IDS_2X3).status == PASS


def _bare_model(schema: str = "IFC4", *, georef: bool = True):
    """A storey without a name holding one wall without a material and one space without a use."""
    f, ctx = new_model(schema, georef=georef)
    ctx["storey"].Name = None
    wall = add_wall(f, ctx, name="Bare wall", material=None)
    add_wall(f, ctx, name="Good wall", start=(0.0, 3.0, 0.0))
    space = ifcopenshell.api.run("root.create_entity", f, ifc_class="IfcSpace", name="S1")
    ifcopenshell.api.run("aggregate.assign_object", f, relating_object=ctx["storey"], products=[space])
    return f, ctx, wall, space


def test_a_model_without_storey_names_materials_or_space_uses_fails_with_each_named():
    f, ctx, wall, space = _bare_model()
    result = check_ids(f, IDS_PATH)
    assert result.status == FAIL and result.measured == 3
    failing = {d["specification"]: d for d in result.details}
    assert set(failing) == {"Storeys are named", "Building elements have a material", "Spaces declare their use"}
    assert failing["Storeys are named"]["failing_global_ids"] == [ctx["storey"].GlobalId]
    assert failing["Building elements have a material"]["failing_global_ids"] == [wall.GlobalId]
    assert failing["Building elements have a material"]["n_applicable"] == 2
    assert failing["Spaces declare their use"]["failing_global_ids"] == [space.GlobalId]
    assert "Storeys are named" in result.message


def test_a_model_without_a_map_conversion_fails_the_georeferencing_requirement():
    f, _ctx, _wall, _space = _bare_model("IFC4X3_ADD2", georef=False)
    result = check_ids(f, ids_file_for(f.schema))
    failing = {d["specification"]: d for d in result.details}
    georef = failing["Georeferenced with a map conversion"]
    assert georef["n_failed"] == 0 and georef["n_applicable"] == 0
    assert "required" in georef["reasons"][0]
    assert "Projected CRS is named" in failing
    assert "IFC4 standard-case elements have a material" not in failing  # IFC4 only: not applicable


def _ifctester_cli_verdict(ids_path: Path, model: Path, tmp_path: Path) -> tuple[bool, dict[str, bool]]:
    """The official checker's overall status and per-specification status, from its own command line."""
    out = tmp_path / f"{model.stem}-{ids_path.stem}.json"
    proc = subprocess.run([sys.executable, "-m", "ifctester", str(ids_path), str(model), "-r", "Json", "-o", str(out)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    return report["status"], {s["name"]: s["status"] for s in report["specifications"]}


def _ids_cases(tmp_path: Path) -> list[Path]:
    bare4, *_ = _bare_model("IFC4")
    bare4x3, *_ = _bare_model("IFC4X3_ADD2")
    bare2x3, _ctx = new_model("IFC2X3", georef=False)
    add_wall(bare2x3, _ctx, name="W")
    for f, name in ((bare4, "bare_ifc4.ifc"), (bare4x3, "bare_ifc4x3.ifc"), (bare2x3, "bare_ifc2x3.ifc")):
        write(f, tmp_path / name)
    return [SUBMISSIONS / "compliant.ifc", SUBMISSIONS / "violating.ifc",
            SAMPLES / "buildings" / "residential_block_b_ifc2x3.ifc", tmp_path / "bare_ifc4.ifc",
            tmp_path / "bare_ifc4x3.ifc", tmp_path / "bare_ifc2x3.ifc"]


def test_the_official_ifctester_command_gives_the_same_verdict_as_cim_for_every_sample(tmp_path, monkeypatch):
    import ifcopenshell.api.owner.settings as owner_settings

    monkeypatch.setattr(owner_settings, "get_user", owner_settings.get_user)
    monkeypatch.setattr(owner_settings, "get_application", owner_settings.get_application)
    verdicts = {}
    for model in _ids_cases(tmp_path):
        f = ifcopenshell.open(str(model))
        ids_path = ids_file_for(f.schema)
        ours = check_ids(f, ids_path)
        official, per_spec = _ifctester_cli_verdict(ids_path, model, tmp_path)
        failing = {d["specification"] for d in ours.details}
        assert official == (ours.status == PASS), (model.name, per_spec, ours.message)
        assert {name for name, ok in per_spec.items() if not ok} == failing, model.name
        verdicts[model.name] = official
    assert verdicts == {"compliant.ifc": True, "violating.ifc": True, "residential_block_b_ifc2x3.ifc": True,
                        "bare_ifc4.ifc": False, "bare_ifc4x3.ifc": False, "bare_ifc2x3.ifc": False}


def test_failing_global_ids_are_capped_at_ten_per_specification():
    f, ctx = new_model()
    walls = [add_wall(f, ctx, name=f"W{i}", start=(0.0, float(i), 0.0), material=None) for i in range(12)]
    result = check_ids(f, IDS_PATH)
    (materials,) = [d for d in result.details if d["specification"] == "Building elements have a material"]
    assert materials["n_failed"] == 12 and len(materials["failing_global_ids"]) == 10
    assert set(materials["failing_global_ids"]) <= {w.GlobalId for w in walls}


# --------------------------------------------------------------------------- georeferencing


@pytest.mark.parametrize("key", KEYS)
def test_the_submissions_georeferencing_passes_all_three_checks(city, key):
    s = _submission(city, key)
    row = s["store"].latest(key)
    info = json.loads(row["georef"]) | {"georef_level": row["georef_level"]}
    extent = city_extent_from(s["layers"]["parcels"], s["layers"]["road_redlines"])
    results = {r.check_id: r for r in georef_checks(info, extent, footprint=s["footprint"])}
    assert [r.status for r in results.values()] == [PASS, PASS, PASS]
    assert results["georef"].measured == 50
    assert results["georef_site_latlon"].measured == pytest.approx(info["site_offset_m"], abs=0.01)


def test_a_model_placed_from_the_city_config_or_far_away_fails_georeferencing():
    extent = city_extent_from(box(464_400, 2_865_540, 465_400, 2_865_880))
    info = {"georef_level": 20, "method": "config placement", "source_crs": "EPSG:4549", "city_crs": "EPSG:4549",
            "placement": {"eastings": 464_600.0 + 5_000.0, "northings": 2_865_740.0}, "map_unit_scale": 1.0,
            "site_reference": [25.9, 119.65, 5.0], "site_offset_m": 120.4}
    level, inside, latlon = georef_checks(info, extent)
    assert level.status == FAIL and level.measured == 20 and "LoGeoRef 50" in level.message
    assert inside.status == FAIL and inside.measured == pytest.approx(469_600.0 - 465_400.0 - 300.0, abs=0.01)
    assert latlon.status == FAIL and latlon.measured == pytest.approx(120.4)


def test_a_site_without_latitude_and_longitude_is_not_applicable():
    extent = city_extent_from(box(0, 0, 10, 10))
    info = {"georef_level": 50, "method": "IfcMapConversion", "placement": {"eastings": 5.0, "northings": 5.0},
            "site_reference": None, "site_offset_m": None}
    _level, inside, latlon = georef_checks(info, extent, None)
    assert inside.status == PASS and latlon.status == NOT_APPLICABLE
    unplaceable = georef_checks(info | {"site_reference": [95.0, 400.0, 0.0]}, extent)[2]
    assert unplaceable.status == FAIL
    assert georef_checks(info, extent, 12.345)[2].measured == pytest.approx(12.35)


# --------------------------------------------------------------------------- site


def test_the_above_ground_footprint_leaves_out_the_basement_that_reaches_towards_the_avenue(city):
    s = _submission(city, "violating")
    basement = below_ground_footprint(s["elements"], s["ground"])
    assert s["footprint"].bounds[1] == pytest.approx(2_865_740.0, abs=1e-6)
    assert basement.bounds[1] == pytest.approx(EXPECTED["violating"]["measured"]["basement_min_northing"], abs=1e-6)
    assert s["footprint"].area == pytest.approx(EXPECTED["violating"]["measured"]["footprint_area_m2"], abs=0.01)
    # the ingest's LoD1 outline (ground = the storey at elevation 0) agrees here, where that storey is at 5.0
    assert shapely.from_wkb(s["building"]["footprint"]).symmetric_difference(s["footprint"]).area < 1e-6


@pytest.mark.parametrize("key", KEYS)
def test_each_submission_reproduces_the_expected_measurements(city, key):
    s = _submission(city, key)
    exp, parcel = EXPECTED[key]["measured"], s["parcel"]
    assert parcel["parcel_id"] == EXPECTED[key]["parcel_id"]
    gfa = sum(above_ground_floor_area(s["elements"], s["ground"]).values())
    assert len(above_ground_floor_area(s["elements"], s["ground"])) == EXPECTED[key]["storeys"]
    geom = parcel.geometry
    results = {
        "height": site.check_height(s["building"]["top_elevation_m"], s["ground"], parcel["max_height_m"]),
        "setback": site.check_setback(s["footprint"], geom, parcel["min_setback_m"]),
        "far": site.check_far(gfa, geom.area, parcel["max_far"]),
        "coverage": site.check_coverage(s["footprint"].area, parcel["area_m2"], parcel["max_coverage"]),
        "inside_parcel": site.check_inside_parcel(s["footprint"], geom),
        "overlap_existing": site.check_neighbours(s["footprint"], s["layers"]["buildings_existing"], ()),
    }
    assert results["height"].measured == pytest.approx(exp["height_m"], abs=0.005)
    assert results["setback"].measured == pytest.approx(exp["min_setback_m"], abs=0.005)
    assert results["far"].measured == pytest.approx(exp["far"], abs=1e-4)
    assert gfa == pytest.approx(exp["gross_floor_area_m2"], abs=0.01)
    assert results["coverage"].measured == pytest.approx(exp["coverage"], abs=1e-4)
    assert results["inside_parcel"].measured == 0.0
    nearest = results["overlap_existing"].details[0]
    assert nearest["name"] == "Binhai Mall"
    assert nearest["distance_m"] == pytest.approx(exp["distance_to_nearest_existing_building_m"], abs=0.005)
    for check_id, result in results.items():
        expected = FAIL if check_id in EXPECTED[key]["fails"] else PASS
        assert result.status == expected, (check_id, result.message)
        assert result.message.endswith(".") and result.unit


@pytest.mark.parametrize("key", KEYS)
def test_the_red_line_distance_names_binhai_avenue(city, key):
    s = _submission(city, key)
    result = site.check_red_line_setback(s["footprint"], s["layers"]["road_redlines"], 8.0)
    assert result.status == PASS and "Binhai Avenue" in result.message
    assert result.measured == pytest.approx(EXPECTED[key]["measured"]["distance_to_avenue_red_line_m"], abs=0.005)


def test_the_violating_setback_is_on_the_east_side_next_to_binhai_mall(city):
    s = _submission(city, "violating")
    result = site.check_setback(s["footprint"], s["parcel"].geometry, 8.0)
    by_side = {d["side"]: d["distance_m"] for d in result.details}
    assert by_side == pytest.approx({"east": 5.0, "south": 20.0, "west": 86.5, "north": 105.5}, abs=0.005)
    assert "east side" in result.message


def test_find_parcel_takes_a_named_parcel_and_refuses_unknown_ones_and_footprints_outside_every_parcel(city):
    parcels = city[1]["parcels"]
    assert site.find_parcel(box(0, 0, 1, 1), parcels, "BH-05")["parcel_id"] == "BH-05"
    with pytest.raises(site.SiteError, match="BH-99"):
        site.find_parcel(box(0, 0, 1, 1), parcels, "BH-99")
    with pytest.raises(InputError, match="outside every parcel") as caught:
        site.find_parcel(box(464_890, 2_865_750, 464_905, 2_865_760), parcels, path="x.ifc")  # in Tonghu Road
    assert caught.value.path == "x.ifc" and "PARCEL" in caught.value.hint
    straddling = box(464_540, 2_865_750, 464_600, 2_865_760)  # 20 m on BH-01, 40 m on BH-02
    assert site.find_parcel(straddling, parcels)["parcel_id"] == "BH-02"


def test_a_footprint_over_the_parcel_boundary_fails_inside_parcel_and_has_a_negative_setback():
    parcel = box(0, 0, 100, 100)
    footprint = box(90, 10, 112.5, 20)
    inside = site.check_inside_parcel(footprint, parcel)
    setback = site.check_setback(footprint, parcel, 8.0)
    assert inside.status == FAIL and inside.measured == pytest.approx(125.0)
    assert setback.status == FAIL and setback.measured == pytest.approx(-12.5)
    assert "beyond the parcel boundary" in setback.message


def test_a_building_in_a_red_line_fails_with_the_roads_name(city):
    red_lines = city[1]["road_redlines"]
    result = site.check_red_line_setback(box(464_600, 2_865_700, 464_620, 2_865_730), red_lines, 5.0)
    assert result.status == FAIL and result.measured == 0.0 and "Binhai Avenue" in result.message


def test_overlapping_an_existing_building_fails_unless_it_is_the_one_replaced(city):
    existing = city[1]["buildings_existing"]
    mall = existing.set_index("building_id").geometry["ctx-01"]
    footprint = affinity.translate(mall, 10.0, 0.0)
    overlapping = site.check_neighbours(footprint, existing, ())
    assert overlapping.status == FAIL
    assert overlapping.measured == pytest.approx(mall.intersection(footprint).area, abs=0.01)
    assert "Binhai Mall" in overlapping.message
    replaced = site.check_neighbours(footprint, existing, ["ctx-01"])
    assert replaced.status == PASS and replaced.measured == 0.0


def test_a_submission_on_an_existing_building_s_footprint_is_its_revision_and_not_an_overlap(city):
    store, layers, _ground = city
    existing = existing_buildings(store, layers["buildings_existing"])
    plaza = existing.set_index("building_id").geometry["ctx-03"]  # Tonghu Plaza, 50 m x 40 m
    near = affinity.translate(plaza, 0.5, 0.0)  # intersection over union 0.98: the same building
    revision, others = find_revision(store, existing, file_name="plaza-rev-b.ifc", model_id="submission-plaza-rev-b",
                                     footprint=near, buildings=[])
    assert revision is not None and (revision.model_id, revision.matched_by) == ("ctx-03", "footprint")
    assert revision.excluded == ["ctx-03"] and "ctx-03" not in set(others["building_id"])
    assert site.check_neighbours(near, others).status == PASS

    moved = affinity.translate(plaza, 5.0, 0.0)  # 0.82: another building on the same spot overlaps it
    revision, others = find_revision(store, existing, file_name="other.ifc", model_id="submission-other",
                                     footprint=moved, buildings=[])
    assert revision is None and site.check_neighbours(moved, others).status == FAIL
    named = [{"name": "  tonghu PLAZA ", "global_id": "0000000000000000000000"}]  # same name, and overlapping
    revision, others = find_revision(store, existing, file_name="other.ifc", model_id="submission-other",
                                     footprint=moved, buildings=named)
    assert (revision.model_id, revision.matched_by) == ("ctx-03", "name")
    assert site.check_neighbours(moved, others).status == PASS


def test_a_submission_with_a_city_model_s_id_is_its_revision_and_the_city_s_ifc_buildings_count_as_existing(city):
    store, layers, _ground = city
    existing = existing_buildings(store, layers["buildings_existing"])
    ingested = set(existing.loc[existing["model_id"].notna(), "model_id"])
    assert ingested == {"compliant", "violating"}  # the two submissions ingested into this city are buildings too
    footprint = _submission(city, "compliant")["footprint"]
    assert site.check_neighbours(footprint, existing).status == FAIL  # both stand on BH-02
    revision, others = find_revision(store, existing, file_name="compliant.ifc", model_id="submission-compliant",
                                     footprint=footprint, buildings=[])
    assert (revision.model_id, revision.version, revision.matched_by) == ("compliant", 1, "model id")
    assert revision.excluded == ["compliant"] and "violating" in set(others["building_id"])


def test_limits_the_parcel_does_not_set_are_not_applicable():
    assert site.check_height(41.0, 5.0, None).status == NOT_APPLICABLE
    assert site.check_far(1000.0, 2000.0, float("nan")).status == NOT_APPLICABLE
    assert site.check_height(41.0, 5.0, 36.0).status == PASS  # exactly at the limit passes
    assert site.check_coverage(1188.25, 21000.0, 0.05).status == FAIL


def test_the_setback_line_is_the_parcel_shrunk_with_square_corners(city):
    parcel = city[1]["parcels"].set_index("parcel_id").geometry["BH-02"]
    line = site.setback_line(parcel, 8.0)
    assert line.bounds == pytest.approx((464_568.0, 2_865_728.0, 464_692.0, 2_865_862.0))
    assert line.area == pytest.approx(124.0 * 134.0)


@pytest.mark.parametrize("schema", sorted(IDS_FILES))
def test_each_design_ids_file_is_valid_ids_1_0_and_holds_only_its_own_schema(schema):
    path = ids_file_for(schema, stem="design_requirements")
    idslib.get_schema().validate(str(path))
    spec_set = idslib.open(str(path), validate=True)
    version = "IFC4X3_ADD2" if schema == "IFC4X3" else schema
    assert spec_set.specifications and all(s.ifcVersion == [version] for s in spec_set.specifications)


def test_the_official_ifctester_command_gives_the_same_design_verdict_as_cim(tmp_path):
    """The design gate's requirements: the construction-drawing model passes, the plan model fails on fire
    ratings, and ifctester's own command line agrees specification by specification."""
    verdicts = {}
    for model in (SAMPLES / "lifecycle" / "design.ifc", SUBMISSIONS / "compliant.ifc"):
        f = ifcopenshell.open(str(model))
        ids_path = ids_file_for(f.schema, stem="design_requirements")
        ours = check_ids(f, ids_path)
        official, per_spec = _ifctester_cli_verdict(ids_path, model, tmp_path)
        assert official == (ours.status == PASS), (model.name, per_spec, ours.message)
        assert {name for name, ok in per_spec.items() if not ok} == {d["specification"] for d in ours.details}
        verdicts[model.name] = official
    assert verdicts == {"design.ifc": True, "compliant.ifc": False}
