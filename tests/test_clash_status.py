"""Clash status across checks: no change, a fix, an approval, a reappearance; incremental re-tests; BCF."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from cim.clash.rules import load_rules
from cim.clash.run import change_status, check_city
from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.store import Store
from tests.clash_probes import PROBE_RULES, build_probes


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Five checks of one model: first, unchanged, pipe moved out of the wall + approval, unchanged, pipe back."""
    tmp = tmp_path_factory.mktemp("status")
    rules_path = tmp / "rules.toml"
    rules_path.write_text(PROBE_RULES)
    rules = load_rules(rules_path)
    store = Store(tmp / "store", "EPSG:4549")
    city = default_config("EPSG:4549", "plan")
    model = tmp / "probes.ifc"

    def state() -> dict[str, dict]:
        return {r["clash_id"]: r for r in store.read("clashes").to_pylist()}

    _, g = build_probes(model)
    ingest_file(store, city, model)
    out = {"g": g, "store": store, "summaries": [check_city(store, rules, run_id="r1")], "states": [state()]}
    out["summaries"].append(check_city(store, rules, run_id="r2"))
    out["states"].append(state())
    build_probes(model, fixed=True)
    ingest_file(store, city, model)
    out["summaries"].append(check_city(store, rules, run_id="r3"))
    collinear = next(c for c, r in state().items() if {r["a_global_id"], r["b_global_id"]} == {g["wall4a"],
                                                                                              g["wall4b"]})
    change_status(store, [collinear], "approved", "planner", "overlap agreed with the architect")
    out["states"].append(state())
    out["summaries"].append(check_city(store, rules, run_id="r4"))
    out["states"].append(state())
    build_probes(model)
    ingest_file(store, city, model)
    out["summaries"].append(check_city(store, rules, run_id="r5"))
    out["states"].append(state())
    out["collinear"] = collinear
    return out


def _pipe_clash(states: dict, g: dict) -> dict:
    return next(r for r in states.values() if g["pipe1"] in (r["a_global_id"], r["b_global_id"]))


def test_the_first_check_finds_every_probe_clash_as_new(runs):
    first = runs["states"][0]
    assert len(first) == 8
    assert {r["status"] for r in first.values()} == {"new"}


def test_re_running_with_nothing_changed_changes_no_status_and_tests_no_pair(runs):
    first, second = runs["states"][0], runs["states"][1]
    assert {c: (r["status"], r["history"]) for c, r in first.items()} == \
        {c: (r["status"], r["history"]) for c, r in second.items()}
    assert runs["summaries"][1]["incremental"] and runs["summaries"][1]["tested"] == 0


def test_moving_the_pipe_out_of_the_wall_resolves_only_that_clash(runs):
    after_fix = runs["states"][2]
    pipe = _pipe_clash(after_fix, runs["g"])
    assert pipe["status"] == "resolved"
    assert [e["to"] for e in json.loads(pipe["history"])] == ["new", "resolved"]
    assert sum(r["status"] == "resolved" for r in after_fix.values()) == 1
    # only pairs involving the moved pipe were tested again
    assert runs["summaries"][2]["tested"] <= 2


def test_an_approved_clash_stays_approved_when_found_again(runs):
    assert runs["states"][3][runs["collinear"]]["status"] == "approved"
    later = runs["states"][4][runs["collinear"]]
    assert later["status"] == "approved" and later["note"] == "overlap agreed with the architect"
    assert json.loads(later["history"])[-1]["by"] == "planner"


def test_a_resolved_clash_that_reappears_is_new_again(runs):
    pipe = _pipe_clash(runs["states"][4], runs["g"])
    assert pipe["status"] == "new"
    assert [e["to"] for e in json.loads(pipe["history"])] == ["new", "resolved", "new"]
    assert pipe["first_seen"] == _pipe_clash(runs["states"][0], runs["g"])["first_seen"]


def test_clash_ids_are_stable_across_runs(runs):
    assert set(runs["states"][0]) == set(runs["states"][4])


def test_an_unknown_clash_id_cannot_be_approved(runs):
    from cim.errors import StoreError

    with pytest.raises(StoreError, match="no clash"):
        change_status(runs["store"], ["0000000000000000"], "approved", "planner")


OTHER_RULES = """
name = "walls-only"

[[rules]]
name = "hard"
mode = "hard"
a = { classes = ["IfcWall"] }
"""


@pytest.fixture(scope="module")
def rule_sets(tmp_path_factory):
    """Checks of one model with rule file A, then B (other rules, one with the same name), A, A --rule gas, A."""
    tmp = tmp_path_factory.mktemp("rulesets")
    (tmp / "a.toml").write_text(PROBE_RULES)
    (tmp / "b.toml").write_text(OTHER_RULES)
    store = Store(tmp / "store", "EPSG:4549")
    model, g = build_probes(tmp / "probes.ifc")
    ingest_file(store, default_config("EPSG:4549", "plan"), model)
    states, summaries = [], []
    for path, only in (("a", None), ("b", None), ("a", None), ("a", ["gas"]), ("a", None)):
        summaries.append(check_city(store, load_rules(tmp / f"{path}.toml", only), run_id=f"r{len(states) + 1}"))
        states.append({r["clash_id"]: r for r in store.read("clashes").to_pylist()})
    return {"g": g, "states": states, "summaries": summaries}


def _kept(row: dict) -> tuple:
    return row["status"], row["history"], row["last_seen"], row["run_id"]


def test_checking_with_another_rule_file_leaves_the_first_files_clashes_as_they_were(rule_sets):
    first, other, again = rule_sets["states"][:3]
    pipe = _pipe_clash(first, rule_sets["g"])
    assert {c: _kept(other[c]) for c in first} == {c: _kept(r) for c, r in first.items()}
    assert again[pipe["clash_id"]]["status"] == "new"
    assert [e["to"] for e in json.loads(again[pipe["clash_id"]]["history"])] == ["new"]
    assert {r["status"] for r in again.values()} == {"new"}
    assert {r["rule_set"] for r in first.values()} == {"a"}
    assert {r["rule_set"] for c, r in other.items() if c not in first} == {"walls-only"}
    # the same rule name in both files: two clashes for one pair of walls, one per rule set
    collinear = {r["rule_set"] for r in other.values() if {r["a_global_id"], r["b_global_id"]} ==
                 {rule_sets["g"]["wall4a"], rule_sets["g"]["wall4b"]}}
    assert collinear == {"a", "walls-only"}


def test_a_rule_subset_only_resolves_the_clashes_of_its_own_rules(rule_sets):
    before, subset, full = rule_sets["states"][2:]
    hard = {c for c, r in before.items() if r["rule"] == "hard" and r["a_class"] != "IfcWall"}
    assert hard and {c: _kept(subset[c]) for c in hard} == {c: _kept(before[c]) for c in hard}
    assert {r["status"] for r in subset.values()} == {"new"}
    # a subset check does not count as a full one: the next full check re-tests everything
    assert not rule_sets["summaries"][4]["incremental"]
    assert {c: r["status"] for c, r in full.items()} == {c: "new" for c in before}


def test_a_full_check_resolves_the_clashes_of_a_rule_removed_from_its_file(tmp_path):
    store = Store(tmp_path / "store", "EPSG:4549")
    model, g = build_probes(tmp_path / "probes.ifc")
    ingest_file(store, default_config("EPSG:4549", "plan"), model)
    rules = tmp_path / "a.toml"
    rules.write_text(PROBE_RULES)
    check_city(store, load_rules(rules))
    rules.write_text(PROBE_RULES.split("[[rules]]\nname = \"gas\"")[0])
    check_city(store, load_rules(rules))
    status = {r["rule"]: r["status"] for r in store.read("clashes").to_pylist() if r["rule"] == "gas"}
    assert status == {"gas": "resolved"}


def test_a_store_written_before_rule_sets_keeps_its_clashes_and_their_status(tmp_path):
    import hashlib

    from deltalake import write_deltalake

    store = Store(tmp_path / "store", "EPSG:4549")
    model, g = build_probes(tmp_path / "probes.ifc")
    ingest_file(store, default_config("EPSG:4549", "plan"), model)
    rules = tmp_path / "site.toml"
    rules.write_text(PROBE_RULES)
    check_city(store, load_rules(rules))
    pipe = _pipe_clash({r["clash_id"]: r for r in store.read("clashes").to_pylist()}, g)
    change_status(store, [pipe["clash_id"]], "approved", "planner", "sleeve to come")
    # the table as the previous release wrote it: no rule_set or depth_method, ids from the rule and the pair
    old = store.read("clashes").drop_columns(["rule_set", "depth_method"])
    ids = [hashlib.sha1("\x1f".join([r["rule"], *sorted((r["a_global_id"], r["b_global_id"]))]).encode())
           .hexdigest()[:16] for r in old.to_pylist()]
    old = old.set_column(old.schema.get_field_index("clash_id"), "clash_id", pa.array(ids))
    write_deltalake(str(store.table_path("clashes")), old, mode="overwrite", schema_mode="overwrite")
    check_city(store, load_rules(rules), full=True)
    rows = store.read("clashes").to_pylist()
    assert len(rows) == len(ids) and {r["rule_set"] for r in rows} == {"site"}
    again = _pipe_clash({r["clash_id"]: r for r in rows}, g)
    assert again["clash_id"] == pipe["clash_id"] and again["status"] == "approved"
    assert {r["status"] for r in rows if r is not again} == {"new"}


def test_the_clashes_table_says_how_each_depth_was_measured(runs):
    from cim.clash.export import _description, clash_json

    g, rows = runs["g"], list(runs["states"][0].values())

    def row(x: str, y: str) -> dict:
        return next(r for r in rows if {r["a_global_id"], r["b_global_id"]} == {g[x], g[y]})

    assert row("pipe1", "wall1")["depth_method"] == "overlap"
    assert row("cap9", "slab9")["depth_method"] == "surface_inside"
    assert row("cap9", "slab9")["depth_m"] == pytest.approx(0.038, abs=0.001)
    walls = row("wall12a", "wall12b")
    assert walls["depth_method"] == "approximate" and walls["depth_m"] == pytest.approx(0.2, abs=0.001)
    assert row("gas8", "water8")["depth_method"] is None
    assert {c["depth_method"] for c in clash_json([walls])["clashes"]} == {"approximate"}
    assert "depth 0.200 m (approximate: both meshes open)" in _description([walls])


def test_clash_list_validates_against_the_same_statuses_the_store_and_the_bcf_export_use():
    from cim import cli_clash
    from cim.clash.bcf import STATUS_TO_BCF
    from cim.clash.status import STATUSES

    assert cli_clash.STATUSES == STATUSES == tuple(STATUS_TO_BCF)
