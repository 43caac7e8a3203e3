"""A second takeoff after one wall changed measures only that wall (and the storey and building totals it
feeds) and reuses everything else, with the same numbers as a takeoff from scratch."""

from __future__ import annotations

import ifcopenshell
import ifcopenshell.api
import ifcopenshell.util.placement
import numpy as np
import pytest

import cim.qto.compute as compute_module
from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.qto.run import takeoff
from cim.store import Store
from tests.models import add_wall, new_model, write

MODEL = "incr"


def build(path, w2_length: float):
    """Three walls, the first with a door in an opening, and a slab."""
    run = ifcopenshell.api.run
    f, ctx = new_model()
    w1 = add_wall(f, ctx, name="W1", length=5.0)
    add_wall(f, ctx, name="W2", start=(0.0, 4.0, 0.0), length=w2_length)
    add_wall(f, ctx, name="W3", start=(8.0, 0.0, 0.0), length=3.0)
    qto = run("pset.add_qto", f, product=w1, name="Qto_WallBaseQuantities")
    run("pset.edit_qto", f, qto=qto, properties={"NetVolume": 2.6})
    opening = run("root.create_entity", f, ifc_class="IfcOpeningElement", name="O1")
    rep = run("geometry.add_wall_representation", f, context=ctx["body"], length=1.0, height=2.0, thickness=0.6)
    run("geometry.assign_representation", f, product=opening, representation=rep)
    run("geometry.edit_object_placement", f, product=opening, matrix=_at(2.0, -0.2), is_si=True)
    run("feature.add_feature", f, feature=opening, element=w1)
    door = run("root.create_entity", f, ifc_class="IfcDoor", name="D1")
    run("spatial.assign_container", f, relating_structure=ctx["storey"], products=[door])
    door_rep = run("geometry.add_door_representation", f, context=ctx["body"], overall_height=2.0, overall_width=1.0)
    run("geometry.assign_representation", f, product=door, representation=door_rep)
    run("geometry.edit_object_placement", f, product=door, matrix=_at(2.0, 0.0), is_si=True)
    run("feature.add_filling", f, opening=opening, element=door)
    slab = run("root.create_entity", f, ifc_class="IfcSlab", name="S1")
    run("spatial.assign_container", f, relating_structure=ctx["storey"], products=[slab])
    slab_rep = run("geometry.add_slab_representation", f, context=ctx["body"], depth=0.25,
                   polyline=[(0.0, 0.0), (4.0, 0.0), (4.0, 3.0), (0.0, 3.0)])
    run("geometry.assign_representation", f, product=slab, representation=slab_rep)
    run("geometry.edit_object_placement", f, product=slab, matrix=_at(0.0, 10.0), is_si=True)
    return write(f, path)


def _at(x: float, y: float) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = (x, y, 0.0)
    return m


def _computed(store: Store) -> dict[tuple, dict]:
    names = {e["global_id"]: e["name"] for e in store.read_model("elements", MODEL).to_pylist()}
    rows = store.read("quantities", filters=[("model_id", "=", MODEL)]).to_pylist()
    return {(names[r["global_id"]], r["qset"], r["name"], r["method"]): r for r in rows}


@pytest.fixture(scope="module")
def second_takeoff(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("incr")
    config = default_config("EPSG:4549")
    path = tmp / f"{MODEL}.ifc"
    store = Store(tmp / "store", "EPSG:4549")
    ingest_file(store, config, build(path, 6.0), workers=1)
    first = takeoff(store, MODEL)
    lengthen_w2(path, 7.5)
    return store, config, path, first, tmp


def lengthen_w2(path, length: float) -> None:
    """Give wall W2 a new body of ``length``; every other entity stays as written."""
    run = ifcopenshell.api.run
    model = ifcopenshell.open(str(path))
    wall = next(w for w in model.by_type("IfcWall") if w.Name == "W2")
    old = wall.Representation.Representations[0]
    context = old.ContextOfItems
    run("geometry.unassign_representation", model, product=wall, representation=old)
    run("geometry.remove_representation", model, representation=old)
    rep = run("geometry.add_wall_representation", model, context=context, length=length, height=3.0, thickness=0.2)
    run("geometry.assign_representation", model, product=wall, representation=rep)
    model.write(str(path))


def test_the_second_takeoff_measures_only_the_changed_wall(second_takeoff, monkeypatch):
    store, config, path, first, _ = second_takeoff
    assert first["n_reused"] == 0 and first["n_recomputed"] == 5  # 3 walls, door, slab
    measured: list[str] = []
    original = compute_module.element_quantities

    def spy(el, geo):
        measured.append(el["name"])
        return original(el, geo)

    monkeypatch.setattr(compute_module, "element_quantities", spy)
    ingest_file(store, config, path, workers=1)
    assert store.latest(MODEL)["version"] == 2
    second = takeoff(store, MODEL)
    assert second["version"] == 2
    assert sorted(measured) == ["Ground floor", "Test building", "W2"]  # the storey and building for their totals
    assert second["n_recomputed"] == 1 and second["n_reused"] == 4
    assert second["n_spatial_recomputed"] == 2  # the storey and the building: their floor area includes W2
    assert _computed(store)[("W2", "Qto_WallBaseQuantities", "Length", "computed")]["value"] == pytest.approx(7.5)


def test_every_reused_or_recomputed_quantity_equals_a_takeoff_from_scratch(second_takeoff):
    store, config, path, _, tmp = second_takeoff
    if store.latest(MODEL)["version"] < 2:
        ingest_file(store, config, path, workers=1)
        takeoff(store, MODEL)
    fresh = Store(tmp / "fresh", "EPSG:4549")
    ingest_file(fresh, config, path, workers=1)
    takeoff(fresh, MODEL)
    got, want = _computed(store), _computed(fresh)
    assert got.keys() == want.keys()
    for key, row in want.items():
        assert got[key]["version"] == 2
        assert got[key]["value"] == pytest.approx(row["value"], rel=1e-9, abs=1e-12), key
        assert (got[key]["reliable"], got[key]["declared_value"]) == (row["reliable"], row["declared_value"]), key
    assert got[("W1", "Qto_WallBaseQuantities", "NetVolume", "computed")]["value"] == pytest.approx(2.6, rel=1e-6)
    assert _summary(store) == pytest.approx(_summary(fresh), rel=1e-9)


def _summary(store: Store) -> dict[tuple, float]:
    return {(r["group_by"], r["key"], r["qset"], r["quantity"]): r["total"]
            for r in store.read("quantity_summary").to_pylist()}


def test_a_moved_door_makes_its_wall_measured_again(tmp_path):
    run = ifcopenshell.api.run
    config = default_config("EPSG:4549")
    store = Store(tmp_path / "store", "EPSG:4549")
    path = build(tmp_path / f"{MODEL}.ifc", 6.0)
    ingest_file(store, config, path, workers=1)
    takeoff(store, MODEL)
    model = ifcopenshell.open(str(path))
    opening = model.by_type("IfcOpeningElement")[0]
    door = model.by_type("IfcDoor")[0]
    for product in (opening, door):
        matrix = ifcopenshell.util.placement.get_local_placement(product.ObjectPlacement)
        matrix[0, 3] += 1.0
        run("geometry.edit_object_placement", model, product=product, matrix=matrix, is_si=True)
    model.write(str(path))
    ingest_file(store, config, path, workers=1)
    result = takeoff(store, MODEL)
    assert result["n_recomputed"] == 2  # the wall (its net body moved a hole) and the door
    wall = _computed(store)[("W1", "Qto_WallBaseQuantities", "NetSideArea", "computed")]
    assert wall["value"] == pytest.approx(13.0, rel=1e-6)
