"""The probe suite: every clash mode, declared intent and touching, at the origin and 500 km from it."""

from __future__ import annotations

import pytest

from cim.clash.engine import Checker
from cim.clash.rules import load_rules
from cim.clash.source import load_models
from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.store import Store
from tests.clash_probes import PROBE_RULES, build_probes


@pytest.fixture(scope="module", params=[0.0, 500_000.0], ids=["at-origin", "500km-away"])
def probes(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("probes")
    path, g = build_probes(tmp / "probes.ifc", request.param)
    store = Store(tmp / "store", "EPSG:4549")
    outcome = ingest_file(store, default_config("EPSG:4549", "plan"), path)
    assert outcome.action == "ingested", outcome.message
    rules_path = tmp / "rules.toml"
    rules_path.write_text(PROBE_RULES)
    checker = Checker(load_models(store))
    findings = checker.run(load_rules(rules_path))
    names = {v: k for k, v in g.items()}
    found = {}
    for f in findings:
        pair = tuple(sorted((names[f.a.split("/")[1]], names[f.b.split("/")[1]])))
        f.pipe_gid = g["pipe2"]
        found[(f.rule.name, pair)] = f
    return found


def test_exactly_the_expected_clashes_are_found(probes):
    assert {(rule, pair, f.mode) for (rule, pair), f in probes.items()} == {
        ("hard", ("pipe1", "wall1"), "hard"),
        ("hard", ("pipe2", "slab2"), "containment"),
        ("hard", ("wall3a", "wall3b"), "duplicate"),
        ("hard", ("wall4a", "wall4b"), "hard"),
        ("hard", ("wall5a", "wall5b"), "hard"),
        ("gas", ("gas8", "water8"), "clearance"),
        ("hard", ("cap9", "slab9"), "hard"),
        ("hard", ("wall12a", "wall12b"), "hard"),
    }


def test_a_pipe_through_a_wall_penetrates_by_its_diameter(probes):
    f = probes[("hard", ("pipe1", "wall1"))]
    assert f.contact.depth == pytest.approx(0.1, abs=0.005)
    x, y, z = f.point
    assert x == pytest.approx(464_902.0, abs=0.01) and y == pytest.approx(2_865_800.1, abs=0.01)
    assert z == pytest.approx(6.5, abs=0.01)


def test_closed_solids_report_the_thickness_of_their_overlap(probes):
    assert {f.contact.depth_method for (rule, pair), f in probes.items() if "pipe1" in pair or "wall4a" in pair} == {
        "overlap"}


def test_an_open_end_cap_reaching_38_mm_into_a_slab_clashes_38_mm_deep(probes):
    f = probes[("hard", ("cap9", "slab9"))]
    assert f.contact.depth == pytest.approx(0.038, abs=0.001)
    assert f.contact.depth_method == "surface_inside"
    x, y, z = f.point
    assert x == pytest.approx(464_981.15, abs=0.01) and y == pytest.approx(2_865_801.15, abs=0.01)
    assert 5.0 - 0.038 <= z <= 5.0


def test_an_open_end_cap_resting_on_a_slab_or_5_mm_into_it_is_not_a_clash_at_10_mm(probes):
    pairs = {pair for _, pair in probes}
    assert ("cap10", "slab10") not in pairs
    assert ("cap11", "slab11") not in pairs


def test_open_walls_crossing_clash_by_the_wall_thickness_marked_approximate(probes):
    f = probes[("hard", ("wall12a", "wall12b"))]
    assert f.contact.depth == pytest.approx(0.2, abs=0.001)
    assert f.contact.depth_method == "approximate"


def test_a_pipe_inside_a_slab_is_contained_by_it(probes):
    f = probes[("hard", ("pipe2", "slab2"))]
    inner = f.a if f.contact.inside == "a" else f.b
    assert inner.split("/")[1] == f.pipe_gid
    assert f.contact.volume == pytest.approx(3.14159 * 0.05**2 * 3, rel=0.02)


def test_collinear_walls_overlapping_fifty_millimetres_clash_by_fifty_millimetres(probes):
    assert probes[("hard", ("wall4a", "wall4b"))].contact.depth == pytest.approx(0.05, abs=0.001)


def test_an_overshooting_corner_clashes_by_the_overshoot(probes):
    assert probes[("hard", ("wall5a", "wall5b"))].contact.depth == pytest.approx(0.1, abs=0.001)


def test_a_wall_resting_on_a_slab_and_a_door_in_its_opening_are_not_clashes(probes):
    pairs = {pair for _, pair in probes}
    assert ("slab6", "wall6") not in pairs
    assert ("door7", "wall7") not in pairs


def test_a_pipe_three_tenths_from_a_gas_pipe_breaks_the_half_metre_clearance(probes):
    f = probes[("gas", ("gas8", "water8"))]
    assert f.contact.distance == pytest.approx(0.3, abs=0.002)
    assert ("hard", ("gas8", "water8")) not in probes
