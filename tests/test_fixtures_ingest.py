"""The real public fixtures ingest with the numbers their README gives (or are refused, see test_bad_input)."""

from __future__ import annotations

import pytest

from cim.config import CityConfig
from cim.ingest.run import ingest_file
from cim.store import Store
from tests.conftest import fixture_path


def _city(tmp_path, crs: str, name: str, placement: dict | None = None) -> CityConfig:
    models = {name: {"placement": placement}} if placement else {}
    return CityConfig(path=tmp_path / "cim.toml", name="t", crs=crs, models=models)


def _ingest(tmp_path, relative: str, crs: str, placement: dict | None = None):
    path = fixture_path(relative)
    store = Store(tmp_path / "store", crs)
    outcome = ingest_file(store, _city(tmp_path, crs, path.name, placement), path, workers=1)
    assert outcome.action == "ingested", outcome.message
    return store, store.read_model("elements", path.stem).to_pylist()


def test_the_duplex_ingests_all_295_products_with_286_meshes_when_placed_by_config(tmp_path):
    store, rows = _ingest(tmp_path, "ifc2x3/Duplex_A_20110907.ifc", "EPSG:4549",
                          {"eastings": 464_700.0, "northings": 2_865_900.0, "height": 5.0})
    assert len(rows) == 295
    counts = {c: sum(r["ifc_class"] == c for r in rows) for c in ("IfcWallStandardCase", "IfcSlab", "IfcSpace",
                                                                  "IfcWindow", "IfcDoor", "IfcBuildingStorey")}
    assert counts == {"IfcWallStandardCase": 56, "IfcSlab": 21, "IfcSpace": 21, "IfcWindow": 24, "IfcDoor": 14,
                      "IfcBuildingStorey": 4}
    assert sum(r["has_mesh"] for r in rows) == 286
    model = store.latest("Duplex_A_20110907")
    assert model["georef_level"] == 20 and model["georef_method"] == "config placement"
    (building,) = store.read_model("buildings", "Duplex_A_20110907").to_pylist()
    assert building["storeys"] == 4 and 100 < building["footprint_area_m2"] < 400


def test_the_fzk_haus_ingests_127_products_on_two_storeys(tmp_path):
    _, rows = _ingest(tmp_path, "ifc4/AC20-FZK-Haus.ifc", "EPSG:4549",
                      {"eastings": 464_800.0, "northings": 2_865_900.0, "height": 5.0})
    assert len(rows) == 127
    assert sum(r["ifc_class"] == "IfcOpeningElement" for r in rows) == 17
    assert len({r["storey"] for r in rows if r["ifc_class"].startswith("IfcWall")}) == 2


def test_the_georeferenced_bridge_lands_near_its_map_conversion_origin(tmp_path):
    store, rows = _ingest(tmp_path, "ifc4x3/georeferenced-bridge-deck.ifc", "EPSG:32610")
    slab = next(r for r in rows if r["has_mesh"])
    # The deck spans local x 0..2025.28 m, y -14..14 m; the map conversion rotates it by about 95.6 degrees
    # (XAxisAbscissa -0.0977, XAxisOrdinate 0.9952) and scales by 0.9996 about E 545991.68 / N 4184941.97.
    norm = (0.0977**2 + 0.9952**2) ** 0.5
    a, b, s = -0.0977 / norm, 0.9952 / norm, 0.9996
    corners = [(x, y) for x in (0.0, 2025.2795) for y in (-14.0, 14.0)]
    east = [545_991.68 + s * (a * x - b * y) for x, y in corners]
    north = [4_184_941.97 + s * (b * x + a * y) for x, y in corners]
    assert slab["xmin"] == pytest.approx(min(east), abs=0.5) and slab["xmax"] == pytest.approx(max(east), abs=0.5)
    assert slab["ymin"] == pytest.approx(min(north), abs=0.5) and slab["ymax"] == pytest.approx(max(north), abs=0.5)
    model = store.latest("georeferenced-bridge-deck")
    assert model["georef_level"] == 50 and model["source_crs"] == "EPSG:32610"


def test_the_signal_model_keeps_its_map_coordinates(tmp_path):
    _, rows = _ingest(tmp_path, "ifc4x3/linear-placement-of-signal.ifc", "EPSG:3065")
    signals = [r for r in rows if r["ifc_class"] == "IfcSignal"]
    assert len(signals) == 2
    # Identity map conversion: the linear placements already give map coordinates.
    first = min(signals, key=lambda r: r["xmin"])
    assert first["xmin"] == pytest.approx(452_600.5, abs=1.0) and first["ymin"] == pytest.approx(4_539_527.5, abs=1.0)
    assert all(r["zmin"] > 0 for r in signals)


def test_the_mep_model_records_its_port_connections(tmp_path):
    store, rows = _ingest(tmp_path, "mep/domestic-hot-water.ifc", "EPSG:4549",
                          {"eastings": 464_900.0, "northings": 2_865_800.0})
    assert sum(r["ifc_class"] == "IfcPipeSegment" for r in rows) == 9
    pipes = [r for r in rows if r["ifc_class"] == "IfcPipeSegment"]
    assert all(r["systems"] for r in pipes)
    relations = store.read_model("relations", "domestic-hot-water").to_pylist()
    assert sum(r["rel_type"] == "connects_ports" for r in relations) >= 10
