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

import re  # noqa: E402

QUERIES = re.findall(r"```sql\n(.*?)```", (ROOT / "docs" / "tunnel_queries.md").read_text(), re.S)


def test_the_doc_holds_seven_queries():
    assert len(QUERIES) == 7


def test_gas_pipes_near_the_excavation_are_the_k0_250_to_k0_400_pieces_with_their_owner(store):
    rows = run_query(store, QUERIES[0]).fetchall()
    assert [r[1] for r in rows] == ["GAS DN300 segment K0+250", "GAS DN300 coupling K0+300",
                                    "GAS DN300 segment K0+300", "GAS DN300 coupling K0+350", "GAS DN300 segment K0+350"]
    assert {r[2] for r in rows} == {"Fuzhou Gas Company (demo)"}


def test_the_gas_compartment_stretch_is_ordered_by_chainage(store):
    rows = run_query(store, QUERIES[1]).fetchall()
    chain = [r[2] for r in rows]
    assert chain == sorted(chain) and chain[0] >= 200.0 and chain[-1] <= 400.0
    assert rows[0][1] == "GAS DN300 valve K0+200" and sum(r[0] == "pipe" for r in rows) == 4


def test_missing_sensors_are_exactly_ch4_in_gas_fc3_and_the_camera_in_wt_fc4(store):
    rows = run_query(store, QUERIES[2]).fetchall()
    assert [(r[0], r[1]) for r in rows if r[3]] == [("GAS-FC3", "CH4"), ("WT-FC4", "video")]


def test_lengths_by_utility_and_owner_match_the_runs(store):
    rows = {(r[0], r[1]): r[2] for r in run_query(store, QUERIES[3]).fetchall()}
    assert rows[("gas", "Fuzhou Gas Company (demo)")] == pytest.approx(1000.0)
    assert rows[("power", "Fuzhou Power Grid Company (demo)")] == pytest.approx(3000.0)
    assert rows[("heat", "Binhai District Heating Co. (demo)")] == pytest.approx(2000.0)


def test_warranties_ending_in_90_days_are_the_pipe_assets_installed_in_march_2025(store):
    rows = {r[0]: (r[1], r[2]) for r in run_query(store, QUERIES[4]).fetchall()}
    assert rows["Gas compartment"][1] == 39 and rows["Power compartment"] == (0, 0)


def test_handover_completeness_shows_the_incomplete_assets(store):
    rows = {r[0]: r for r in run_query(store, QUERIES[5]).fetchall()}
    assert rows["IfcFan"][3:] == (1, 1) and rows["IfcPump"][3:] == (1, 1) and rows["IfcSensor"][3:] == (1, 1)
    assert rows["IfcValve"][2] == 1.0


def test_a_ch4_alarm_starts_six_fans_and_closes_the_k0_200_valve(store):
    rows = run_query(store, QUERIES[6]).fetchall()
    assert [r[1] for r in rows if r[0] == "close valve"] == ["GAS DN300 valve K0+200"]
    assert {r[2] for r in rows if r[0] == "start fan"} == {"GAS-FC1", "GAS-FC2", "GAS-FC3"}
    assert sum(r[0] == "start fan" for r in rows) == 6
