"""Version diff (cim.diff): every change class on small ifcopenshell.api models ingested as two versions."""

from __future__ import annotations

import uuid
from pathlib import Path

import ifcopenshell.api
import ifcopenshell.guid
import pytest

from cim.clash.rules import load_rules
from cim.clash.run import check_city
from cim.config import default_config
from cim.diff import Diff, DiffError, compare_versions, record_changes
from cim.ingest.run import ingest_file
from cim.qto.run import takeoff
from cim.store import Store
from tests.models import add_box, add_pipe, add_wall, new_model, write

RULES = """
[[rules]]
name = "hard"
mode = "hard"
tolerance_m = 0.01
a = { classes = ["IfcElement"], exclude_classes = ["IfcOpeningElement"] }
"""


def _guid(salt: str, entity) -> str:
    kind = "element" if entity.is_a("IfcElement") else entity.is_a()  # a reclassified element keeps its id
    key = f"{salt}/{kind}/{getattr(entity, 'Name', None)}"
    return ifcopenshell.guid.compress(uuid.uuid5(uuid.NAMESPACE_URL, key).hex)


def build(path: Path, version: int, *, salt: str = "v") -> Path:
    """Version 1 or 2 of a small storey; every GlobalId derives from class + name (+ ``salt``), so both versions
    share them unless ``salt`` differs (an exporter that regenerates ids)."""
    f, ctx = new_model()
    add_box(f, ctx, "IfcColumn", name="Moved column", corner=(2.0 if version == 2 else 0.0, 0.0, 0.0),
            size=(0.4, 0.4, 3.0))
    add_wall(f, ctx, name="Lengthened wall", start=(0.0, 5.0, 0.0), length=7.0 if version == 2 else 5.0)
    slab = add_box(f, ctx, "IfcSlab", name="Rated slab", corner=(0.0, 10.0, 0.0), size=(4.0, 4.0, 0.2))
    pset = ifcopenshell.api.run("pset.add_pset", f, product=slab, name="Pset_SlabCommon")
    ifcopenshell.api.run("pset.edit_pset", f, pset=pset, properties={"FireRating": "REI90" if version == 2
                                                                      else "REI60"})
    add_box(f, ctx, "IfcColumn" if version == 2 else "IfcBuildingElementProxy", name="Reclassified post",
            corner=(10.0, 0.0, 0.0), size=(0.3, 0.3, 3.0))
    add_box(f, ctx, "IfcColumn", name="Steady column", corner=(40.0, 0.0, 0.0), size=(0.4, 0.4, 3.0))
    add_wall(f, ctx, name="Pipe wall", start=(50.0, 0.0, 0.0), length=4.0)
    add_pipe(f, ctx, name="Pipe", start=(52.0, -1.0, 1.5), direction=(0.0, 1.0, 0.0), length=2.0,
             diameter=0.1) if version == 1 else add_pipe(f, ctx, name="Pipe", start=(52.0, 1.0, 1.5),
                                                         direction=(0.0, 1.0, 0.0), length=2.0, diameter=0.1)
    if version == 1:
        add_box(f, ctx, "IfcBeam", name="Removed beam", corner=(20.0, 0.0, 3.0), size=(4.0, 0.3, 0.5))
    else:
        add_box(f, ctx, "IfcColumn", name="Added column", corner=(30.0, 0.0, 0.0), size=(0.4, 0.4, 3.0))
        add_box(f, ctx, "IfcColumn", name="Clashing column", corner=(30.2, 0.0, 0.0), size=(0.4, 0.4, 3.0))
    for entity in f.by_type("IfcRoot"):
        entity.GlobalId = _guid(salt if entity.is_a("IfcElement") else "v", entity)
    return write(f, path)


def ingest_two(tmp: Path, *, salt2: str = "v", clash: bool = True) -> tuple[Store, str]:
    """Both versions of model ``m`` ingested, each followed by a takeoff and (optionally) a clash check."""
    store = Store(tmp / "store", "EPSG:4549")
    config = default_config("EPSG:4549", "plan")
    path = tmp / "m.ifc"
    rules = tmp / "rules.toml"
    rules.write_text(RULES)
    for version, salt in ((1, "v"), (2, salt2)):
        build(path, version, salt=salt)
        outcome = ingest_file(store, config, path, workers=1)
        assert outcome.action == "ingested", outcome
        takeoff(store, "m", ifc_path=path, approximate=True)
        if clash:
            check_city(store, load_rules(rules))
    return store, "m"


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory) -> tuple[Store, Diff]:
    store, model_id = ingest_two(tmp_path_factory.mktemp("diff"))
    return store, compare_versions(store, model_id)


def _one(diff: Diff, change: str, name: str) -> dict:
    rows = [r for r in diff.changes if r["change"] == change and r["name"] == name]
    assert len(rows) == 1, (change, name, [(r["change"], r["name"]) for r in diff.changes])
    return rows[0]


def test_the_default_diff_compares_the_previous_version_with_the_current_one(two_versions):
    _, diff = two_versions
    assert (diff.model_id, diff.from_version, diff.to_version) == ("m", 1, 2)


def test_an_element_only_in_the_new_version_is_added(two_versions):
    assert _one(two_versions[1], "added", "Added column")["matched_by"] is None


def test_an_element_only_in_the_old_version_is_removed(two_versions):
    assert _one(two_versions[1], "removed", "Removed beam")["ifc_class"] == "IfcBeam"


def test_a_moved_element_says_by_how_much(two_versions):
    row = _one(two_versions[1], "moved", "Moved column")
    assert row["moved_m"] == pytest.approx(2.0, abs=1e-3)
    assert row["dx"] == pytest.approx(2.0, abs=1e-3) and row["rotation_deg"] == pytest.approx(0.0, abs=1e-3)
    assert not [r for r in two_versions[1].changes if r["name"] == "Moved column" and r["change"] != "moved"]


def test_a_lengthened_wall_is_reshaped_not_moved(two_versions):
    row = _one(two_versions[1], "reshaped", "Lengthened wall")
    assert row["matched_by"] == "global_id"
    assert not [r for r in two_versions[1].changes if r["name"] == "Lengthened wall" and r["change"] == "moved"]


def test_a_changed_property_names_the_set_the_property_and_both_values(two_versions):
    row = _one(two_versions[1], "properties_changed", "Rated slab")
    assert (row["pset"], row["property"], row["old_value"], row["new_value"]) == (
        "Pset_SlabCommon", "FireRating", "REI60", "REI90")


def test_a_changed_class_is_reclassified_with_old_and_new_class(two_versions):
    row = _one(two_versions[1], "reclassified", "Reclassified post")
    assert (row["property"], row["old_class"], row["new_class"]) == ("ifc_class", "IfcBuildingElementProxy",
                                                                     "IfcColumn")


def test_counts_give_elements_per_change_class_and_the_unchanged_ones(two_versions):
    counts = two_versions[1].counts
    assert counts["added"] == 2 and counts["removed"] == 1 and counts["moved"] >= 1
    assert counts["reshaped"] == 1 and counts["reclassified"] == 1 and counts["properties_changed"] == 1
    assert counts["unchanged"] >= 4  # steady column, pipe wall, site, building, storey...
    assert not [r for r in two_versions[1].changes if r["name"] == "Steady column"]


def test_a_lengthened_wall_shows_as_a_quantity_delta_of_its_class(two_versions):
    deltas = [d for d in two_versions[1].quantity_deltas
              if d["group_by"] == "class" and d["key"] == "IfcWall" and d["quantity"] == "Length"]
    assert deltas and deltas[0]["delta"] == pytest.approx(2.0, abs=1e-3)
    assert deltas[0]["unit"] == "m" and deltas[0]["new"] - deltas[0]["old"] == pytest.approx(deltas[0]["delta"])


def test_clash_deltas_list_the_new_and_the_resolved_clashes(two_versions):
    clashes = two_versions[1].clash_deltas
    assert {frozenset((c["a_name"], c["b_name"])) for c in clashes["resolved"]} == {frozenset(("Pipe", "Pipe wall"))}
    assert {frozenset((c["a_name"], c["b_name"])) for c in clashes["new"]} == {
        frozenset(("Added column", "Clashing column"))}


def test_the_changes_are_stored_as_model_changes_rows_and_a_rerun_replaces_them(two_versions):
    store, diff = two_versions
    assert record_changes(store, diff) == len(diff.changes)
    assert record_changes(store, diff) == len(diff.changes)
    rows = store.read("model_changes").to_pylist()
    assert len(rows) == len(diff.changes)
    assert {(r["model_id"], r["from_version"], r["to_version"]) for r in rows} == {("m", 1, 2)}
    assert {r["change"] for r in rows} == {"added", "removed", "moved", "reshaped", "properties_changed",
                                           "reclassified"}


def test_regenerated_global_ids_are_matched_by_class_type_and_location(tmp_path):
    store, model_id = ingest_two(tmp_path, salt2="regenerated", clash=False)
    diff = compare_versions(store, model_id)
    steady = [r for r in diff.changes if r["name"] == "Steady column"]
    assert steady == []  # same class, type and place: matched, and nothing changed
    row = _one(diff, "properties_changed", "Rated slab")
    assert row["matched_by"] == "fallback" and row["old_global_id"] != row["global_id"]
    # moved, lengthened (its centre moves) or reclassified: without the GlobalId, a removed one plus an added one
    assert {r["name"] for r in diff.changes if r["change"] == "removed"} == {
        "Removed beam", "Moved column", "Reclassified post", "Lengthened wall", "Pipe"}


def test_a_model_with_one_version_has_nothing_to_diff(tmp_path):
    store = Store(tmp_path / "store", "EPSG:4549")
    ingest_file(store, default_config("EPSG:4549", "plan"), build(tmp_path / "m.ifc", 1))
    with pytest.raises(DiffError, match="only version 1: nothing to diff"):
        compare_versions(store, "m")


def test_a_version_that_does_not_exist_is_refused_with_the_versions_there_are(two_versions):
    with pytest.raises(DiffError, match=r"no version 7 \(--to\); its versions: 1, 2"):
        compare_versions(two_versions[0], "m", to_version=7)


def test_a_store_written_before_a_compared_column_existed_diffs_with_that_column_unknown(two_versions, tmp_path):
    import shutil

    from deltalake import write_deltalake

    old_store = tmp_path / "old-store"
    shutil.copytree(two_versions[0].root, old_store)
    elements = Store(old_store, create=False).read("elements").drop_columns(["predefined_type"])
    write_deltalake(str(old_store / "elements"), elements, mode="overwrite", schema_mode="overwrite")
    diff = compare_versions(Store(old_store, create=False), "m")
    assert any("no predefined_type column" in n and "unknown" in n for n in diff.notes)
    assert diff.counts["moved"] == two_versions[1].counts["moved"]
