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


def _findings(store: Store) -> list[tuple]:
    return run_query(store, "SELECT rule_id, clause, severity, compartment, fire_compartment, chainage_start_m, "
                            "chainage_end_m, measured, allowed FROM tunnel_findings ORDER BY 1, 4, 6").fetchall()


def test_the_three_planted_breaks_are_the_only_errors_on_the_sample(store):
    errors = [f for f in _findings(store) if f[2] == "error"]
    assert sorted(errors) == sorted([
        ("fire_compartment_length", "7.1.6", "error", "Power compartment", "PWR-FC2", 200.0, 450.0, 250.0, 200.0),
        ("monitoring", "7.5", "error", "Gas compartment", "GAS-FC3", 400.0, 600.0, 0.0, 1.0),
        ("monitoring", "7.5", "error", "Water+Telecom compartment", "WT-FC4", 600.0, 800.0, 0.0, 1.0),
    ])


def test_the_remaining_warnings_are_real_geometry_of_the_sample(store):
    warnings = [(f[0], f[3], f[5], f[6], round(f[7], 2)) for f in _findings(store) if f[2] == "warning"]
    hoisting = [w for w in warnings if w[0] == "hoisting_spacing"]
    assert len(hoisting) == 4 and {w[2:] for w in hoisting} == {(260.0, 740.0, 480.0)}
    assert ("sump_per_drainage_zone", "Power compartment", 190.0, 440.0, 250.0) in warnings
    aisles = {w[1]: w[4] for w in warnings if w[0] == "aisle_width"}
    assert aisles == {"Gas compartment": pytest.approx(0.74, abs=0.01),
                      "Water+Telecom compartment": pytest.approx(0.88, abs=0.01)}
    assert len(warnings) == 7


def test_separation_rules_find_gas_with_water_and_hv_beside_telecom():
    from cim.tunnel.rules import load_rules, run_rules

    comp = {"global_id": "C", "name": "Mixed", "kind": "compartment", "compartment_type": "mixed",
            "lateral_min_m": 0.0, "lateral_max_m": 2.0, "chainage_start_m": 0.0, "chainage_end_m": 100.0,
            "clear_height_m": 2.2, "length_m": 100.0}

    def asset(gid, kind, util, lateral, z, kv=None, medium=None):
        return {"global_id": gid, "asset_kind": kind, "utility_type": util, "lateral_offset_m": lateral,
                "lateral_min_m": lateral - 0.1, "lateral_max_m": lateral + 0.1, "elevation_m": z, "voltage_kv": kv,
                "medium": medium, "compartment_global_id": "C", "fire_compartment_global_id": None,
                "chainage_start_m": 0.0, "chainage_end_m": 100.0, "measured_quantity": None}

    assets = [asset("g", "pipe", "gas", 0.2, 0.0), asset("w", "pipe", "water", 0.2, 1.0),
              asset("h", "pipe", "heat", 0.3, 0.5, medium="steam"), asset("p", "cable", "power", 1.8, 1.0, kv=110),
              asset("t", "cable", "telecom", 1.9, 0.5)]
    rules = {f["rule_id"] for f in run_rules(assets, [comp], load_rules())}
    assert {"gas_alone", "steam_alone", "heat_not_with_power", "hv_not_with_telecom_side", "water_below_heat",
            "clear_height"} <= rules
