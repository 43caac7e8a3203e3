"""The sample city's deliberate clashes: all found, nothing from doors, windows or the tunnel; BCF opens."""

from __future__ import annotations

import re
import zipfile

import pytest

from cim.clash.run import check_city
from tests.conftest import SAMPLES

PLANTED = re.compile(r"^\| (\S+) \| (\S+) \| (\w+) '[^']*' \(`([^`]+)`\) \| (\w+) '[^']*' \(`([^`]+)`\) \|$", re.M)
MODES = {"duplicate-wall": "duplicate", "pipe-column": "containment", "duct-beam": "hard"}


@pytest.fixture(scope="module")
def checked(sample_city):
    store, config, _ = sample_city
    summary = check_city(store, ground_z=config.ground_elevation_m, base=config.root, full=True)
    planted = PLANTED.findall((SAMPLES / "README.md").read_text(encoding="utf-8"))
    return store, summary, [r for r in store.read("clashes").to_pylist() if r["status"] != "resolved"], planted


def test_the_readme_lists_seven_planted_clashes(checked):
    assert len(checked[3]) == 7


def test_every_planted_clash_is_found_with_its_kind(checked):
    _, _, rows, planted = checked
    pairs = {frozenset((r["a_global_id"], r["b_global_id"])): r for r in rows}
    for model, kind, _, a, _, b in planted:
        row = pairs.get(frozenset((a, b)))
        assert row is not None, f"{model} {kind} {a} x {b} not found"
        assert row["a_model"] == model and row["mode"] == MODES[kind]


def test_the_only_other_clashes_are_the_duplicate_walls_with_the_original_s_window(checked):
    _, _, rows, planted = checked
    planted_pairs = {frozenset((a, b)) for _, _, _, a, _, b in planted}
    copies = {a for _, kind, _, a, _, b in planted if kind == "duplicate-wall"} | \
        {b for _, kind, _, a, _, b in planted if kind == "duplicate-wall"}
    others = [r for r in rows if frozenset((r["a_global_id"], r["b_global_id"])) not in planted_pairs]
    assert len(others) == 2
    for r in others:
        classes = {r["a_class"], r["b_class"]}
        assert classes == {"IfcWall", "IfcWindow"}
        assert {r["a_global_id"], r["b_global_id"]} & copies


def test_no_door_window_or_tunnel_element_clashes_with_its_own_host(checked):
    _, _, rows, _ = checked
    assert not [r for r in rows if "IfcDoor" in (r["a_class"], r["b_class"])]
    assert not [r for r in rows if r["a_model"] == "tunnel-binhai"]


def test_nothing_in_the_city_reaches_the_tunnel_zone_or_the_pipelines(checked):
    _, summary, rows, _ = checked
    assert summary["zones"] >= 2
    assert not [r for r in rows if r["rule"] in ("tunnel-protection", "pipeline-clearance")]


def test_the_bcf_export_opens_in_ifcopenshell_s_bcf_reader(checked, tmp_path):
    from bcf import bcfxml

    from cim.clash.export import export_store

    store, summary, rows, planted = checked
    json_path, bcf_path = export_store(store, store.read("clashes").to_pylist(), tmp_path, summary)
    assert json_path.exists()
    names = zipfile.ZipFile(bcf_path).namelist()
    assert "bcf.version" in names
    with bcfxml.load(bcf_path) as bcf:
        topics = bcf.topics
        groups = {r["element_group"] for r in rows}
        assert len(topics) == len(groups)
        selected = set()
        for handler in topics.values():
            assert handler.topic.topic_status == "Open"
            viewpoint = next(iter(handler.viewpoints.values()))
            assert viewpoint.visualization_info.perspective_camera is not None
            selected |= {c.ifc_guid for c in viewpoint.visualization_info.components.selection.component}
            assert any(n.endswith("snapshot.png") for n in names if n.startswith(handler.topic.guid))
    assert {a for *_, a, _, _ in planted} <= selected


def test_the_sample_city_s_bcf_is_named_after_the_city_and_names_each_topic_s_ifc_files(checked, tmp_path):
    import ifcopenshell
    from bcf import bcfxml

    from cim.clash.export import export_store

    store, summary, rows, _ = checked
    export_store(store, store.read("clashes").to_pylist(), tmp_path, summary, version="3.0")
    sources = {m["model_id"]: SAMPLES / m["source_path"] for m in store.current_models().to_pylist()
               if m["kind"] == "ifc"}
    projects = {path.name: ifcopenshell.open(str(path)).by_type("IfcProject")[0].GlobalId
                for path in sources.values()}
    by_group = {}
    for r in rows:
        by_group.setdefault(r["element_group"], []).append(r)
    with bcfxml.load(tmp_path / "clashes.bcfzip") as bcf:
        assert bcf.project.name == "Fuzhou Binhai New City - demo district"  # not the store folder's name
        assert len(bcf.topics) == len(by_group)
        for handler in bcf.topics.values():
            files = handler.header.files.file
            assert files and {f.ifc_project for f in files} == {projects[f.filename] for f in files}
            models = {c.originating_system for vp in handler.viewpoints.values()
                      for c in vp.visualization_info.components.selection.component}
            assert {f.filename for f in files} == {sources[m].name for m in models}
            assert all(m in handler.topic.title for m in models)


def test_the_check_records_every_element_it_saw_with_its_hash_and_the_rules_digest(checked):
    from cim.clash.region import city_index
    from cim.clash.rules import load_rules

    store = checked[0]
    rows = store.read("clash_elements").to_pylist()
    index = city_index(store)
    elements = {k: h for k, h in zip(index.keys, index.hashes, strict=True)}
    seen = {r["key"]: r["geometry_hash"] for r in rows}
    assert {k: seen[k] for k in elements} == elements  # zones (zone:<rule>:<feature>) are recorded as well
    assert {r["rules_digest"] for r in rows} == {load_rules().digest}
    assert len({r["checked_at"] for r in rows}) == 1 and rows[0]["checked_at"].tzinfo is not None
