"""Bad input: one clear message naming the file and the reason, a quarantine row, nothing stored changes."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.store import Store
from tests.conftest import fixture_path
from tests.models import add_wall, new_model, one_wall_store, write


@pytest.fixture
def store(tmp_path):
    """A store that already holds one good model, so 'nothing stored changes' can be checked."""
    return one_wall_store(tmp_path)


def _versions(store: Store) -> dict[str, int]:
    return {name: store.table_version(name) for name in store.table_names() if name != "ingest_errors"}


def _refused(store: Store, path, expected_stage: str, expected_words: str):
    before = _versions(store)
    outcome = ingest_file(store, default_config("EPSG:4549"), path)
    assert outcome.action == "quarantined"
    assert outcome.stage == expected_stage
    assert str(path) in outcome.message and expected_words in outcome.message
    errors = store.read("ingest_errors").to_pylist()
    assert errors[-1]["source_path"] == str(path) and errors[-1]["stage"] == expected_stage
    assert _versions(store) == before  # nothing already stored changed
    return outcome


def test_a_zero_byte_file_is_refused_as_empty(tmp_path, store):
    path = tmp_path / "empty.ifc"
    path.write_bytes(b"")
    _refused(store, path, "open", "empty file")


def test_a_text_file_named_ifc_is_refused_as_not_ifc(tmp_path, store):
    path = tmp_path / "notes.ifc"
    path.write_text("Meeting notes: the model will follow next week.\n")
    _refused(store, path, "open", "not an IFC file")


def test_an_ifc_cut_off_half_way_is_refused_as_cut_off(tmp_path, store):
    f, ctx = new_model()
    add_wall(f, ctx, name="W1")
    full = write(f, tmp_path / "full.ifc").read_bytes()
    path = tmp_path / "half.ifc"
    path.write_bytes(full[: len(full) // 2])
    _refused(store, path, "open", "cut off")


def test_the_real_invalid_fixture_is_refused_for_its_missing_header(store):
    _refused(store, fixture_path("broken/invalid.ifc"), "open", "ISO-10303-21")


def test_a_formally_illegal_file_is_refused_with_the_parser_position(store):
    outcome = _refused(store, fixture_path("broken/FormallyIllegalFile.ifc"), "parse", "syntax error")
    assert "offset" in outcome.message


def test_a_draft_schema_is_refused_as_unsupported(store):
    outcome = _refused(store, fixture_path("broken/IFCTunnelDep3_Sys.ifc"), "schema", "IFC4X4_75858e21")
    assert "IFC4X3_ADD2" in outcome.message  # says what to export instead


def test_an_ifc2x3_final_file_is_read_as_ifc2x3_and_then_needs_a_placement(store):
    outcome = _refused(store, fixture_path("broken/ifc2x3_final_wall.ifc"), "georef", "placement")
    assert "no LoGeoRef 50" in outcome.message or "georeferenc" in outcome.message


def test_a_file_of_unknown_type_is_refused(tmp_path, store):
    path = tmp_path / "drawing.dwg"
    path.write_bytes(b"AC1032")
    _refused(store, path, "open", "unsupported file type")


def test_a_gis_layer_without_crs_is_refused_with_the_fix(tmp_path, store):
    path = tmp_path / "nocrs.shp"  # a shapefile without its .prj (GeoJSON always has one: CRS84)
    with pytest.warns(UserWarning):
        gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)]).to_file(path)
    assert not path.with_suffix(".prj").exists()
    outcome = _refused(store, path, "gis", "no CRS")
    assert "cim.toml" in outcome.message


def test_a_layer_with_one_invalid_polygon_loads_the_rest_and_quarantines_that_feature(tmp_path, store):
    path = tmp_path / "parcels.gpkg"
    bad = shapely.Polygon([(0, 0), (0, 0), (0, 0), (0, 0)])  # a ring with no area: cannot be repaired
    frame = gpd.GeoDataFrame({"parcel_id": ["A", "B", "C"]},
                             geometry=[shapely.box(464_900, 2_865_800, 464_950, 2_865_850), bad,
                                       shapely.box(464_960, 2_865_800, 465_000, 2_865_850)], crs="EPSG:4549")
    frame.to_file(path, layer="parcels")
    outcome = ingest_file(store, default_config("EPSG:4549"), path)
    assert outcome.action == "ingested" and outcome.n_elements == 2
    assert "refused" in outcome.message
    errors = [e for e in store.read("ingest_errors").to_pylist() if e["feature_id"]]
    assert len(errors) == 1 and errors[0]["source_path"] == str(path)
    assert sorted(store.read("parcels")["parcel_id"].to_pylist()) == ["A", "C"]


def test_the_real_two_point_ring_fixture_is_refused_naming_the_feature(tmp_path):
    store = Store(tmp_path / "nl", "EPSG:28992")
    outcome = ingest_file(store, default_config("EPSG:28992"), fixture_path("gis/poly_not_enough_points.shp.zip"))
    assert outcome.action == "quarantined" and outcome.stage == "gis"
    assert "id 0" in outcome.message


def test_a_layer_from_another_city_is_refused_by_area_of_use(store):
    outcome = ingest_file(store, default_config("EPSG:4549"), fixture_path("gis/nybb_16a.zip"))
    assert outcome.action == "quarantined" and "area of use" in outcome.message


def test_a_malformed_unit_assignment_is_refused_at_the_units_stage(store):
    outcome = _refused(store, fixture_path("infra/PR-Twin-Branch-PavementElements.ifc"), "units", "length unit")
    assert "IfcUnitAssignment" in outcome.message


def test_a_file_without_products_and_without_buildings_is_not_an_internal_error(tmp_path, store):
    from tests.models import new_model

    f, ctx = new_model()
    for rel in f.by_type("IfcRelAggregates"):
        f.remove(rel)
    for el in f.by_type("IfcProduct"):
        f.remove(el)
    outcome = ingest_file(store, default_config("EPSG:4549"), write(f, tmp_path / "empty_model.ifc"))
    assert outcome.action == "quarantined" and outcome.stage == "open"
    assert "no products" in outcome.message and "\n" not in outcome.message
