"""A new version of a model reuses the geometry of unchanged products and equals a from-scratch ingest."""

from __future__ import annotations

import re
from pathlib import Path

import ifcopenshell
import ifcopenshell.api
import pyarrow.compute as pc
import pytest

from cim.config import default_config
from cim.ingest.ifc import prepare_ifc
from cim.ingest.reuse import Previous
from cim.ingest.run import ingest_file
from cim.store import Store
from tests.incremental_models import N_MESHED
from tests.incremental_models import base_model as _base
from tests.incremental_models import by_name as _by_name
from tests.incremental_models import revise as _revise
from tests.incremental_models import wall_with_opening as _wall_with_opening
from tests.models import add_box, new_model, place, write


def _move_w2(f):
    place(f, _by_name(f, "W2"), (0.5, 4.0, 0.0))


def _widen_c1_profile(f):
    _by_name(f, "C1").Representation.Representations[0].Items[0].SweptArea.XDim = 0.7


def _raise_the_type(f):
    f.by_type("IfcRepresentationMap")[0].MappedRepresentation.Items[0].Depth = 3.5


def _shift_map_conversion(f):
    f.by_type("IfcMapConversion")[0].Eastings += 10.0


def _touch_header(path: Path) -> None:
    """Only the FILE_NAME time stamp changes, as when a tool saves an unchanged model again."""
    text = path.read_text()
    text, n = re.subn(r"(FILE_NAME\('[^']*',')[^']*'", r"\g<1>2031-01-01T00:00:00'", text, count=1)
    assert n == 1
    path.write_text(text)


def _rows(store: Store, table: str, version: int) -> list[dict]:
    rows = store.read_model(table, "m", version).drop_columns(["model_id", "version"]).to_pylist()
    return sorted(rows, key=lambda r: (r.get("global_id") or "", repr(r)))


def _revision_vs_scratch(tmp_path, change, base=None, n_meshed: int = N_MESHED) -> tuple[Store, dict]:
    city = default_config("EPSG:4549", "plan")
    path = (base or _base)(tmp_path / "m.ifc")
    store = Store(tmp_path / "store", "EPSG:4549")
    assert ingest_file(store, city, path).versions == [1]
    change(path)
    outcome = ingest_file(store, city, path)
    assert outcome.action == "ingested" and outcome.versions == [2]
    scratch = Store(tmp_path / "scratch", "EPSG:4549")
    assert ingest_file(scratch, city, path).versions == [1]
    for table in ("elements", "meshes", "buildings", "relations"):
        assert _rows(store, table, 2) == _rows(scratch, table, 1), table
    latest, fresh = store.latest("m"), scratch.latest("m")
    assert fresh["n_meshes_reused"] is None
    assert latest["n_meshes"] == fresh["n_meshes"] == n_meshed
    assert (latest["n_elements"], latest["status"]) == (fresh["n_elements"], fresh["status"])
    return store, latest


def _changed(store: Store) -> set[str]:
    """Names of the elements whose mesh changed between version 1 and 2."""
    old = {r["name"]: r["geometry_hash"] for r in _rows(store, "elements", 1)}
    return {r["name"] for r in _rows(store, "elements", 2) if r["has_mesh"] and r["geometry_hash"] != old[r["name"]]}


def test_a_moved_element_is_the_only_one_tessellated_again(tmp_path):
    store, latest = _revision_vs_scratch(tmp_path, lambda p: _revise(p, _move_w2))
    assert latest["n_meshes_reused"] == N_MESHED - 1
    assert _changed(store) == {"W2"}


def test_a_changed_profile_is_tessellated_again(tmp_path):
    store, latest = _revision_vs_scratch(tmp_path, lambda p: _revise(p, _widen_c1_profile))
    assert latest["n_meshes_reused"] == N_MESHED - 1
    assert _changed(store) == {"C1"}


def test_a_changed_type_representation_redoes_every_instance_of_the_type(tmp_path):
    store, latest = _revision_vs_scratch(tmp_path, lambda p: _revise(p, _raise_the_type))
    assert latest["n_meshes_reused"] == N_MESHED - 3
    assert _changed(store) == {"T0", "T1", "T2"}


def test_a_changed_map_conversion_redoes_everything(tmp_path):
    store, latest = _revision_vs_scratch(tmp_path, lambda p: _revise(p, _shift_map_conversion))
    assert latest["n_meshes_reused"] == 0
    assert len(_changed(store)) == N_MESHED


def test_a_file_saved_again_with_only_a_new_header_time_stamp_reuses_everything(tmp_path):
    store, latest = _revision_vs_scratch(tmp_path, _touch_header)
    assert latest["n_meshes_reused"] == N_MESHED
    assert _changed(store) == set()


def test_a_moved_opening_redoes_the_wall_it_cuts(tmp_path):
    store, latest = _revision_vs_scratch(
        tmp_path, lambda p: _revise(p, lambda f: place(f, _by_name(f, "Opening"), (3.0, 0.0, 0.0))),
        base=_wall_with_opening, n_meshed=4)
    assert latest["n_meshes_reused"] == 2
    assert _changed(store) == {"W1", "Opening"}


def _renumber(path: Path) -> None:
    """The same model written with other STEP ids, as another export of it would be."""
    old = ifcopenshell.open(str(path))
    new = ifcopenshell.file(schema=old.schema)
    for entity in reversed(list(old)):
        new.add(entity)
    assert {e.id() for e in new.by_type("IfcProduct")} != {e.id() for e in old.by_type("IfcProduct")}
    new.write(str(path))


def test_the_same_model_with_other_step_ids_reuses_everything(tmp_path):
    store, latest = _revision_vs_scratch(tmp_path, _renumber)
    assert latest["n_meshes_reused"] == N_MESHED


def test_a_product_whose_previous_mesh_row_is_missing_is_tessellated_again(tmp_path):
    city = default_config("EPSG:4549", "plan")
    path = _base(tmp_path / "m.ifc")
    store = Store(tmp_path / "store", "EPSG:4549")
    ingest_file(store, city, path)
    elements = store.read_model("elements", "m")
    meshes = store.read_model("meshes", "m")
    w1 = next(r["global_id"] for r in elements.to_pylist() if r["name"] == "W1")
    previous = Previous.from_tables(1, elements, meshes.filter(pc.not_equal(meshes["global_id"], w1)))
    settings = city.settings_for(path, "ifc")
    commit = prepare_ifc(path, "EPSG:4549", settings, reuse=previous)
    fresh = prepare_ifc(path, "EPSG:4549", settings)
    assert commit.record["n_meshes_reused"] == N_MESHED - 1
    assert commit.record["n_meshes"] == fresh.record["n_meshes"] == N_MESHED
    for table in ("elements", "meshes", "buildings"):
        got = sorted(commit.tables[table].to_pylist(), key=lambda r: r["global_id"])
        want = sorted(fresh.tables[table].to_pylist(), key=lambda r: r["global_id"])
        assert got == want, table


def test_a_forced_re_ingest_tessellates_everything(tmp_path):
    city = default_config("EPSG:4549", "plan")
    path = _base(tmp_path / "m.ifc")
    store = Store(tmp_path / "store", "EPSG:4549")
    ingest_file(store, city, path)
    _touch_header(path)
    assert ingest_file(store, city, path, force=True).versions == [2]
    assert store.latest("m")["n_meshes_reused"] is None


def test_a_store_made_before_the_geometry_input_hash_column_takes_new_versions(tmp_path):
    from deltalake import write_deltalake

    from cim.store.schema import table_schema

    store = Store(tmp_path / "store", "EPSG:4549")
    old = table_schema("elements", "EPSG:4549")
    old = old.remove(old.get_field_index("geometry_input_hash"))
    write_deltalake(str(store.root / "elements"), old.empty_table(), mode="overwrite", schema_mode="overwrite")
    city = default_config("EPSG:4549", "plan")
    path = _base(tmp_path / "m.ifc")
    assert ingest_file(store, city, path).versions == [1]
    _revise(path, _move_w2)
    assert ingest_file(store, city, path).versions == [2]
    assert store.latest("m")["n_meshes_reused"] == N_MESHED - 1
    assert all(r["geometry_input_hash"] for r in _rows(store, "elements", 2))


def test_a_file_saved_again_unchanged_is_not_parsed_again(tmp_path, monkeypatch):
    import cim.ingest.ifc

    city = default_config("EPSG:4549", "plan")
    path = _base(tmp_path / "m.ifc")
    store = Store(tmp_path / "store", "EPSG:4549")
    ingest_file(store, city, path)
    _touch_header(path)

    def no_parse(*args, **kwargs):
        raise AssertionError("the file was parsed again")

    monkeypatch.setattr(cim.ingest.ifc, "open_ifc", no_parse)
    outcome = ingest_file(store, city, path)
    assert (outcome.action, outcome.versions, outcome.n_elements) == ("ingested", [2], store.latest("m")["n_elements"])
    v1, v2 = store.read("models").sort_by("version").to_pylist()
    assert v2["sha256"] != v1["sha256"] and v2["content_sha256"] == v1["content_sha256"]
    assert v2["n_meshes_reused"] == v2["n_meshes"] == N_MESHED


def test_a_previous_version_that_cannot_be_read_means_a_full_ingest_not_a_refusal(tmp_path):
    from cim.ingest.reuse import ReuseSource

    city = default_config("EPSG:4549", "plan")
    path = _base(tmp_path / "m.ifc")
    commit = prepare_ifc(path, "EPSG:4549", city.settings_for(path, "ifc"),
                         reuse=ReuseSource(str(tmp_path / "no-store"), "m", 1))
    assert commit.record["n_meshes"] == N_MESHED and commit.record["n_meshes_reused"] is None


def _move_first_wall(f):
    """Give the first wall a placement of its own 0.3 m further east (its old one may be shared)."""
    wall = sorted(f.by_type("IfcWall"), key=lambda w: w.GlobalId)[0]
    old = wall.ObjectPlacement
    point = f.createIfcCartesianPoint([c + (0.3 if i == 0 else 0.0)
                                       for i, c in enumerate(old.RelativePlacement.Location.Coordinates)])
    axes = f.createIfcAxis2Placement3D(point, old.RelativePlacement.Axis, old.RelativePlacement.RefDirection)
    wall.ObjectPlacement = f.createIfcLocalPlacement(old.PlacementRelTo, axes)


@pytest.mark.parametrize("relative", ["ifc2x3/Duplex_A_20110907.ifc", "ifc4/AC20-FZK-Haus.ifc"])
def test_a_real_export_revised_equals_its_from_scratch_ingest(tmp_path, relative):
    from cim.config import CityConfig
    from tests.conftest import fixture_path

    source = fixture_path(relative)
    path = tmp_path / source.name
    ifcopenshell.open(str(source)).write(str(path))  # both versions from one writer, as from one authoring tool
    city = CityConfig(path=tmp_path / "cim.toml", name="t", crs="EPSG:4549", models={path.name: {"placement": {
        "eastings": 464_700.0, "northings": 2_865_900.0, "height": 5.0}}})
    store = Store(tmp_path / "store", "EPSG:4549")
    assert ingest_file(store, city, path, workers=1).versions == [1]
    _revise(path, _move_first_wall)
    assert ingest_file(store, city, path, workers=1).versions == [2]
    scratch = Store(tmp_path / "scratch", "EPSG:4549")
    assert ingest_file(scratch, city, path, workers=1).versions == [1]
    model = path.stem
    for table in ("elements", "meshes", "buildings"):
        got = sorted(store.read_model(table, model, 2).drop_columns(["model_id", "version"]).to_pylist(),
                     key=lambda r: r["global_id"])
        want = sorted(scratch.read_model(table, model, 1).drop_columns(["model_id", "version"]).to_pylist(),
                      key=lambda r: r["global_id"])
        assert got == want, table
    latest = store.latest(model)
    assert 0 < latest["n_meshes_reused"] < latest["n_meshes"]
    assert latest["n_meshes"] - latest["n_meshes_reused"] <= 12  # the wall, its openings and what they cut


def test_the_content_hash_ignores_only_the_header_time_stamp(tmp_path):
    from cim.ingest.same_content import file_hashes

    path = _base(tmp_path / "m.ifc")
    sha, content = file_hashes(path)
    _touch_header(path)
    sha2, content2 = file_hashes(path)
    assert sha2 != sha and content2 == content
    path.write_text(path.read_text().replace("FILE_NAME('", "FILE_NAME('x", 1))
    assert file_hashes(path)[1] != content


def test_a_long_lived_worker_meshes_the_new_content_of_a_file_changed_at_the_same_path(tmp_path):
    """A Dask worker keeps the parsed model between chunks and between runs: a file changed since must be
    read again, not meshed from the parse of the night before."""
    import ifcopenshell.util.unit

    from cim.georef import resolve_georef
    from cim.ingest.ifc_chunks import process_chunk_in_worker, release

    path = tmp_path / "m.ifc"

    def version(x: float) -> tuple[int, object, float]:
        f, ctx = new_model()
        box = add_box(f, ctx, "IfcColumn", name="C", corner=(x, 0.0, 0.0), size=(0.4, 0.4, 3.0))
        write(f, path)
        settings = default_config("EPSG:4549", "plan").settings_for(path, "ifc")
        model = ifcopenshell.open(str(path))
        georef = resolve_georef(model, path, "EPSG:4549", settings.placement)
        return box.id(), georef, ifcopenshell.util.unit.calculate_unit_scale(model)

    try:
        step, georef, scale = version(0.0)
        first = process_chunk_in_worker(str(path), [step], georef, scale).elements.to_pylist()[0]
        step, georef, scale = version(25.0)  # same path, new content
        second = process_chunk_in_worker(str(path), [step], georef, scale).elements.to_pylist()[0]
    finally:
        release()
    assert second["xmin"] - first["xmin"] == pytest.approx(25.0, abs=1e-6)
