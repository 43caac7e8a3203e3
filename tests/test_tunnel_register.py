from __future__ import annotations

from pathlib import Path

import pytest

from cim.query import run_query
from cim.store import Store

ROOT = Path(__file__).resolve().parents[1]
TUNNEL = ROOT / "sample_models" / "tunnel" / "utility_tunnel.ifc"


@pytest.fixture(scope="module")
def store(tunnel_store) -> Store:
    return tunnel_store

from cim.tunnel.patterns import find_zones, zone_of  # noqa: E402


def test_every_sample_asset_has_a_compartment_fire_compartment_and_chainage(store):
    n, comp, fire, chain = run_query(store, "SELECT count(*), count(compartment), count(fire_compartment), "
                                            "count(chainage_start_m) FROM tunnel_assets").fetchone()
    assert n > 1000 and n == comp == fire == chain


def test_equipment_chainage_comes_from_the_linear_placement(store):
    row = run_query(store, "SELECT chainage_start_m, chainage_source, lateral_offset_m, fire_compartment "
                           "FROM tunnel_assets WHERE name = 'GAS-FC1 O2 sensor'").fetchone()
    assert row[0] == pytest.approx(20.0, abs=1e-6) and row[1] == "linear placement" and row[3] == "GAS-FC1"
    assert row[2] == pytest.approx(-3.45, abs=0.05)


def test_pipe_segments_are_projected_onto_the_axis_with_network_data(store):
    row = run_query(store, "SELECT chainage_start_m, chainage_end_m, nominal_diameter_mm, pressure_mpa, owner, "
                           "medium, len(connected_to), length_m FROM tunnel_assets "
                           "WHERE name = 'GAS DN300 segment K0+000'").fetchone()
    assert row[0] == pytest.approx(0.0, abs=1e-6) and row[1] == pytest.approx(50.0, abs=1e-6)
    assert row[2:6] == (300.0, 0.4, "Fuzhou Gas Company (demo)", "natural gas") and row[6] == 1
    assert row[7] == pytest.approx(50.0)


def test_the_incomplete_assets_are_flagged(store):
    rows = dict(run_query(store, "SELECT name, quality_flags FROM tunnel_assets WHERE name IN ('HEAT-FC5 exhaust fan',"
                                 " 'PWR-FC3 sump pump', 'WT-FC2 humidity sensor', 'GAS-FC4 temperature sensor 2')"
                          ).fetchall())
    assert {"missing_tag", "missing_owner"} <= set(rows["HEAT-FC5 exhaust fan"])
    assert {"missing_tag", "missing_owner"} <= set(rows["PWR-FC3 sump pump"])
    assert "missing_tag" in rows["WT-FC2 humidity sensor"] and "missing_owner" not in rows["WT-FC2 humidity sensor"]
    assert "missing_owner" in rows["GAS-FC4 temperature sensor 2"]


def test_compartments_and_fire_compartments_span_the_chainage(store):
    rows = run_query(store, "SELECT name, compartment_type, chainage_start_m, chainage_end_m, length_m FROM "
                            "tunnel_compartments WHERE kind = 'compartment' ORDER BY name").fetchall()
    assert [(r[0], r[1]) for r in rows] == [("Gas compartment", "gas"), ("Heat compartment", "heat"),
                                            ("Power compartment", "power"), ("Water+Telecom compartment", "mixed")]
    assert {r[4] for r in rows} == {1000.0}
    pwr2 = run_query(store, "SELECT length_m FROM tunnel_compartments WHERE name = 'PWR-FC2'").fetchone()[0]
    assert pwr2 == pytest.approx(250.0)


def _row(gid, cls, name, container=None, parent=None, bounds=None, psets=None):
    b = dict(zip(("xmin", "ymin", "zmin", "xmax", "ymax", "zmax"), bounds or (None,) * 6, strict=True))
    return {"global_id": gid, "ifc_class": cls, "name": name, "object_type": None, "predefined_type": None,
            "description": None, "psets": psets, "container_global_id": container, "parent_global_id": parent, **b}


def test_storeys_named_as_compartments_and_spaces_as_fire_compartments_are_recognised():
    rows = [_row("S1", "IfcBuildingStorey", "燃气舱 Gas compartment"),
            _row("F1", "IfcSpace", "GAS-FC1", parent="S1"),
            _row("P1", "IfcPipeSegment", "gas pipe", container="F1")]
    zones = find_zones(rows)
    assert zones["S1"].kind == "compartment" and zones["S1"].ctype == "gas" and zones["S1"].pattern == "building-storey"
    assert zones["F1"].kind == "fire_compartment" and zones["F1"].parent == "S1"
    up = {r["global_id"]: r["container_global_id"] or r["parent_global_id"] for r in rows}
    assert zone_of(rows[2], zones, up) == "F1"


def test_named_proxies_place_assets_by_their_bounds():
    rows = [_row("X1", "IfcBuildingElementProxy", "Power compartment", bounds=(0, 0, 0, 100, 2, 3)),
            _row("X2", "IfcBuildingElementProxy", "Fire compartment PWR-FC1", bounds=(0, 0, 0, 50, 2, 3)),
            _row("C1", "IfcCableSegment", "10 kV cable", bounds=(10, 1, 1, 20, 1.1, 1.1))]
    zones = find_zones(rows)
    assert zones["X1"].ctype == "power" and zones["X2"].parent == "X1" and zones["X2"].pattern == "named-proxy"
    assert zone_of(rows[2], zones, {}) == "X2"
