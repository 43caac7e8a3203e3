"""A revision compared line by line with the previous version (cim.ingest.revise) equals a from-scratch ingest,
and takes the short way only where the changed lines reach product geometry alone."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import ifcopenshell
import pytest

from cim.config import CityConfig, default_config
from cim.ingest.line_diff import plan_revision
from cim.ingest.line_index import LineIndex, read_lines
from cim.ingest.run import ingest_file
from cim.store import Store
from tests.incremental_models import N_MESHED, base_model, by_name, revise, wall_with_opening
from tests.models import add_box, place


def _context(f) -> dict:
    storey = f.by_type("IfcBuildingStorey")[0]
    body = next(c for c in f.by_type("IfcGeometricRepresentationSubContext") if c.ContextIdentifier == "Body")
    return {"storey": storey, "body": body}

TABLES = ("elements", "meshes", "buildings", "relations", "step_lines")


def _rows(store: Store, table: str, model: str, version: int) -> list[dict]:
    rows = store.read_model(table, model, version).drop_columns(["model_id", "version"]).to_pylist()
    return sorted(rows, key=lambda r: (r.get("global_id") or "", repr(r)))


def _revised(tmp_path: Path, change, base=base_model, city=None, caplog=None) -> tuple[Store, dict, str]:
    """Ingest ``base``, apply ``change``, ingest again; assert every table equals a from-scratch ingest of the
    revised file. Returns the store, the new version's record and which way the revision went."""
    city = city or default_config("EPSG:4549", "plan")
    path = base(tmp_path / "m.ifc")
    store = Store(tmp_path / "store", "EPSG:4549")
    assert ingest_file(store, city, path, workers=1).versions == [1]
    change(path)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="cim.ingest.revise"):
        assert ingest_file(store, city, path, workers=1).versions == [2]
    said = " ".join(r.getMessage() for r in caplog.records if r.name == "cim.ingest.revise")
    way = "lines" if "meshed again" in said else "full"
    scratch = Store(tmp_path / "scratch", "EPSG:4549")
    assert ingest_file(scratch, city, path, workers=1).versions == [1]
    model = path.stem
    for table in TABLES:
        assert _rows(store, table, model, 2) == _rows(scratch, table, model, 1), table
    latest, fresh = store.latest(model), scratch.latest(model)
    for field in ("n_elements", "n_meshes", "status", "message", "georef", "content_sha256", "sha256"):
        assert latest[field] == fresh[field], field
    return store, latest, way + ": " + said


def _move_point(name: str, dx: float = 0.25):
    """Move a product by editing its own placement point in place (no entity added: a re-save keeps ids)."""
    def change(path: Path) -> None:
        def edit(f):
            point = by_name(f, name).ObjectPlacement.RelativePlacement.Location
            x, y, z = point.Coordinates
            point.Coordinates = (x + dx, y, z)
        revise(path, edit)
    return change


def _edit(fn):
    return lambda path: revise(path, fn)


def test_an_element_moved_in_place_is_meshed_again_alone_and_the_rest_carried(tmp_path, caplog):
    _, latest, way = _revised(tmp_path, _move_point("W2"), caplog=caplog)
    assert way.startswith("lines"), way
    assert latest["n_meshes_reused"] == N_MESHED - 1


@pytest.mark.parametrize(("name", "outlines"), [("D1", 0), ("W2", 1)])
def test_a_revision_outlines_the_building_again_only_when_one_of_its_walls_slabs_or_columns_moved(
        tmp_path, caplog, monkeypatch, name, outlines):
    import cim.buildings

    outlined = []
    real = cim.buildings._outline
    monkeypatch.setattr(cim.buildings, "_outline", lambda *a: outlined.append(1) or real(*a))
    move = _move_point(name)
    _, latest, way = _revised(tmp_path, lambda path: (outlined.clear(), move(path)), caplog=caplog)
    assert way.startswith("lines"), way
    assert latest["n_meshes_reused"] == N_MESHED - 1
    assert len(outlined) == outlines  # counted in this process: the revision's (a full ingest outlines in a child)


def test_a_door_raised_above_the_roof_gives_the_building_a_new_top_and_the_same_outline(tmp_path, caplog):
    def raise_door(f):
        point = by_name(f, "D1").ObjectPlacement.RelativePlacement.Location
        x, y, z = point.Coordinates
        point.Coordinates = (x, y, z + 5.0)
    store, latest, way = _revised(tmp_path, _edit(raise_door), caplog=caplog)
    assert way.startswith("lines"), way
    before, after = (store.read_model("buildings", "m", v).to_pylist()[0] for v in (1, 2))
    assert after["top_elevation_m"] > before["top_elevation_m"] + 4
    assert after["footprint"] == before["footprint"]


def test_a_widened_profile_is_meshed_again_alone(tmp_path, caplog):
    def widen(f):
        by_name(f, "C1").Representation.Representations[0].Items[0].SweptArea.XDim = 0.7
    _, latest, way = _revised(tmp_path, _edit(widen), caplog=caplog)
    assert way.startswith("lines"), way
    assert latest["n_meshes_reused"] == N_MESHED - 1


def test_a_wall_with_an_opening_moved_in_place_is_cut_again_from_the_small_file(tmp_path, caplog):
    _, latest, way = _revised(tmp_path, _move_point("W1", 0.4), base=wall_with_opening, caplog=caplog)
    assert way.startswith("lines"), way
    assert latest["n_meshes_reused"] < latest["n_meshes"]


def test_a_new_file_description_alone_carries_every_row(tmp_path, caplog):
    def describe(path: Path) -> None:
        text = path.read_text()
        text, n = re.subn(r"FILE_DESCRIPTION\(\([^)]*\)", "FILE_DESCRIPTION(('ViewDefinition [Revised]')", text,
                          count=1)
        assert n == 1
        path.write_text(text)
    _, latest, way = _revised(tmp_path, describe, caplog=caplog)
    assert way.startswith("lines"), way
    assert latest["n_meshes_reused"] == N_MESHED


@pytest.mark.parametrize(("change", "why"), [
    (_edit(lambda f: setattr(f.by_type("IfcRepresentationMap")[0].MappedRepresentation.Items[0], "Depth", 3.5)),
     "IfcColumnType"),
    (_edit(lambda f: setattr(f.by_type("IfcMapConversion")[0], "Eastings", f.by_type("IfcMapConversion")[0].Eastings
                             + 10.0)), "IfcMapConversion"),
    (_edit(lambda f: setattr(by_name(f, "W2"), "Name", "W2 renamed")), "IfcWall"),
    (_edit(lambda f: setattr(f.by_type("IfcBuildingStorey")[0].ObjectPlacement.RelativePlacement.Location,
                             "Coordinates", (0.0, 0.0, 0.5))), "IfcBuildingStorey"),
    (_edit(lambda f: f.createIfcCartesianPoint((1.0, 2.0, 3.0))), "reaching no product"),
    (_edit(lambda f: f.remove(by_name(f, "C1"))), "removed"),
    (_edit(lambda f: add_box(f, _context(f), "IfcColumn", name="C9", corner=(30.0, 0.0, 0.0), size=(0.4, 0.4, 3.0))),
     "IfcRoot entity"),
])
def test_a_change_that_reaches_more_than_product_geometry_is_ingested_in_full(tmp_path, caplog, change, why):
    _, _, way = _revised(tmp_path, change, caplog=caplog)
    assert way.startswith("full") and why in way, way


def test_an_element_moved_as_an_editor_does_it_new_placement_entities_appended_is_revised_by_lines(
        tmp_path, caplog):
    _, latest, way = _revised(tmp_path, _edit(lambda f: place(f, by_name(f, "W2"), (0.5, 4.0, 0.0))), caplog=caplog)
    assert way.startswith("lines"), way
    assert latest["n_meshes_reused"] == N_MESHED - 1


def test_a_new_point_given_to_an_element_is_revised_by_lines(tmp_path, caplog):
    def new_point(f):
        rel = by_name(f, "C1").ObjectPlacement.RelativePlacement
        x, y, z = rel.Location.Coordinates
        rel.Location = f.createIfcCartesianPoint((x + 0.3, y + 0.3, z))
    _, latest, way = _revised(tmp_path, _edit(new_point), caplog=caplog)
    assert way.startswith("lines"), way
    assert latest["n_meshes_reused"] == N_MESHED - 1


def test_a_model_whose_file_moved_to_another_folder_is_still_revised_by_lines(tmp_path, caplog):
    city = default_config("EPSG:4549", "plan")
    path = base_model(tmp_path / "m.ifc")
    store = Store(tmp_path / "store", "EPSG:4549")
    assert ingest_file(store, city, path, workers=1).versions == [1]
    moved = tmp_path / "elsewhere" / "m.ifc"
    moved.parent.mkdir()
    path.rename(moved)
    _move_point("W2")(moved)
    with caplog.at_level(logging.INFO, logger="cim.ingest.revise"):
        assert ingest_file(store, city, moved, workers=1).versions == [2]
    assert any("meshed again" in r.getMessage() for r in caplog.records), caplog.text
    assert store.latest("m")["source_path"].endswith("elsewhere/m.ifc")
    scratch = Store(tmp_path / "scratch", "EPSG:4549")
    assert ingest_file(scratch, city, moved, workers=1).versions == [1]
    for table in TABLES:
        assert _rows(store, table, "m", 2) == _rows(scratch, table, "m", 1), table


def test_a_moved_opening_is_meshed_again_with_the_wall_it_cuts(tmp_path, caplog):
    store, latest, way = _revised(tmp_path, _move_point("Opening", 0.5), base=wall_with_opening, caplog=caplog)
    assert way.startswith("lines"), way
    old = {r["name"]: r["geometry_hash"] for r in _rows(store, "elements", "m", 1)}
    new = {r["name"]: r["geometry_hash"] for r in _rows(store, "elements", "m", 2)}
    assert {name for name in new if new[name] != old[name]} == {"W1", "Opening"}


def test_an_opening_placed_in_a_cycle_sends_the_revision_to_the_full_ingest_which_refuses_it(tmp_path, caplog):
    def cycle(f):
        placement = by_name(f, "Opening").ObjectPlacement
        placement.PlacementRelTo = placement

    store, latest, way = _revised(tmp_path, _edit(cycle), base=wall_with_opening, caplog=caplog)
    assert way.startswith("full") and "opening reaches a reference cycle" in way, way
    assert "W1" not in {r["name"] for r in _rows(store, "elements", "m", 2)}


def test_an_element_moved_to_an_absurd_place_is_refused_by_the_full_ingest(tmp_path, caplog):
    store, latest, way = _revised(tmp_path, _move_point("W2", 1e9), caplog=caplog)
    assert way.startswith("full") and "refused" in way, way
    assert latest["status"] == "incomplete"
    assert "W2" not in {r["name"] for r in _rows(store, "elements", "m", 2)}


def test_a_real_export_moved_in_place_is_revised_by_lines_and_equals_its_from_scratch_ingest(tmp_path, caplog):
    from tests.conftest import fixture_path

    source = fixture_path("ifc4/AC20-FZK-Haus.ifc")

    def base(path: Path) -> Path:
        ifcopenshell.open(str(source)).write(str(path))  # both versions from one writer
        return path

    def move_a_wall(path: Path) -> None:
        def edit(f):
            wall = sorted(f.by_type("IfcWall"), key=lambda w: w.GlobalId)[0]
            point = wall.ObjectPlacement.RelativePlacement.Location
            point.Coordinates = (point.Coordinates[0] + 0.3, *point.Coordinates[1:])
        revise(path, edit)

    city = CityConfig(path=tmp_path / "cim.toml", name="t", crs="EPSG:4549", models={"m.ifc": {"placement": {
        "eastings": 464_700.0, "northings": 2_865_900.0, "height": 5.0}}})
    _, latest, way = _revised(tmp_path, move_a_wall, base=base, city=city, caplog=caplog)
    if way.startswith("full"):  # the wall's point may be shared (then the plan names what it reaches)
        assert "reached" in way or "products changed" in way, way
    else:
        assert 0 < latest["n_meshes"] - latest["n_meshes_reused"] <= 12


def test_the_line_index_finds_exactly_the_edited_lines(tmp_path):
    path = base_model(tmp_path / "m.ifc")
    before = read_lines(path)
    _move_point("C1")(path)
    after = read_lines(path, None, before.index)
    assert after.index.layout == before.index.layout
    [changed] = after.changed.tolist()
    assert after.line(changed).startswith(b"#%d=IFCCARTESIANPOINT" % after.ids[changed])
    plan = plan_revision(after, before.index, "IFC4")
    f = ifcopenshell.open(str(path))
    assert plan.products == [by_name(f, "C1").id()]
    assert after.index == read_lines(path).index  # hashed by groups, the index is the same as from scratch


def _appended(path: Path) -> None:  # a new point for C1 appended, as an editor writes it
    def edit(f):
        placement = by_name(f, "C1").ObjectPlacement.RelativePlacement
        placement.Location = f.createIfcCartesianPoint((9.0, 9.0, 0.0))
    revise(path, edit)


def _inserted(path: Path) -> None:  # a line put in the middle of the DATA section: every later group shifts
    lines = path.read_bytes().split(b"\n")
    middle = lines.index(b"DATA;") + (len(lines) - lines.index(b"DATA;")) // 2
    path.write_bytes(b"\n".join([*lines[:middle], b"#99999=IFCCARTESIANPOINT((1.,2.,3.));", *lines[middle:]]))


def _removed(path: Path) -> None:  # the last entity line left out
    lines = path.read_bytes().split(b"\n")
    last = max(i for i, line in enumerate(lines) if line.startswith(b"#"))
    path.write_bytes(b"\n".join(lines[:last] + lines[last + 1:]))


@pytest.mark.parametrize("change", [_appended, _inserted, _removed, _move_point("W1")])
def test_line_hashes_reused_group_by_group_are_those_of_a_file_read_from_scratch(tmp_path, change):
    path = base_model(tmp_path / "m.ifc")
    before = read_lines(path)
    change(path)
    after = read_lines(path, None, before.index)
    assert after.index == read_lines(path).index
    if after.index.layout == before.index.layout:
        assert len(after.changed) == 1


def test_a_file_not_one_entity_per_line_gets_no_index(tmp_path):
    path = base_model(tmp_path / "m.ifc")
    text = path.read_text()
    data = text.index("DATA;")
    wrapped = text[:data] + re.sub(r"(#\d+=IFC\w+\([^\n]*?),", r"\1,\n", text[data:], count=1)
    assert wrapped.count("\n") == text.count("\n") + 1
    path.write_text(wrapped)
    assert read_lines(path) is None
    assert LineIndex.from_table(LineIndex("", b"", b"").as_table().slice(0, 0)) is None


def test_a_string_running_over_a_line_break_gets_no_index(tmp_path):
    path = base_model(tmp_path / "m.ifc")
    text = path.read_text()
    data = text.index("DATA;")
    crafted = text[:data] + text[data:].replace("'W1'", "'W1;\n#999999=IFCWALL($);'", 1)
    assert crafted != text
    path.write_text(crafted)
    assert read_lines(path) is None


def _base_with_hash_in_a_name(path: Path) -> Path:
    base_model(path)
    revise(path, lambda f: setattr(by_name(f, "D1"), "Name", "Door #999999"))
    return path


def test_a_hash_sign_inside_a_name_is_text_and_the_revision_still_goes_by_lines(tmp_path, caplog):
    _, _, way = _revised(tmp_path, _move_point("W2"), base=_base_with_hash_in_a_name, caplog=caplog)
    assert way.startswith("lines"), way


def test_a_name_changed_only_in_its_digits_after_a_hash_sign_is_a_change_not_a_new_reference(tmp_path, caplog):
    store, _, way = _revised(tmp_path, _edit(lambda f: setattr(by_name(f, "Door #999999"), "Name", "Door #999998")),
                             base=_base_with_hash_in_a_name, caplog=caplog)
    assert way.startswith("full"), way
    assert "Door #999998" in {r["name"] for r in _rows(store, "elements", "m", 2)}


def test_a_revision_referring_to_an_entity_it_does_not_define_is_ingested_in_full_and_refused(tmp_path, caplog):
    city = default_config("EPSG:4549", "plan")
    path = base_model(tmp_path / "m.ifc")
    store = Store(tmp_path / "store", "EPSG:4549")
    assert ingest_file(store, city, path, workers=1).versions == [1]
    f = ifcopenshell.open(str(path))
    placement = by_name(f, "W2").ObjectPlacement.RelativePlacement
    text = path.read_text()
    holder = next(x for x in text.splitlines() if x.startswith(f"#{placement.id()}="))
    path.write_text(text.replace(holder, holder.replace(f"#{placement.Location.id()}", "#999999", 1)))
    with caplog.at_level(logging.INFO, logger="cim.ingest.revise"):
        outcome = ingest_file(store, city, path, workers=1)
    assert "does not define" in caplog.text, caplog.text
    assert outcome.action == "quarantined" and "dangling" in outcome.message, outcome
    assert store.latest("m")["version"] == 1  # nothing stored changed


def test_a_product_line_replaced_by_another_entity_under_the_same_id_is_not_taken_for_geometry(tmp_path):
    path = base_model(tmp_path / "m.ifc")
    before = read_lines(path)
    from cim.ingest.line_diff import with_roots

    old = with_roots(before, "IFC4")
    wall = by_name(ifcopenshell.open(str(path)), "W2")
    text = path.read_text()
    line = next(x for x in text.splitlines() if x.startswith(f"#{wall.id()}="))
    path.write_text(text.replace(line, f"#{wall.id()}=IFCCARTESIANPOINT((0.,0.,0.));"))
    plan = plan_revision(read_lines(path, None, old), old, "IFC4")
    assert isinstance(plan, str) and f"#{wall.id()}" in plan, plan


@pytest.mark.parametrize("drop", [[], [0], [9], [0, 9], [3, 4, 5], list(range(10)), [2, 7]])
def test_the_previous_meshes_without_those_meshed_again_are_the_rows_a_filter_keeps_in_order(drop):
    import pyarrow as pa
    import pyarrow.compute as pc

    from cim.ingest.revise import _without

    table = pa.table({"global_id": [f"g{i}" for i in range(10)], "n": list(range(10))})
    mask = pa.chunked_array([[i in drop for i in range(5)], [i in drop for i in range(5, 10)]])
    assert _without(table, mask).equals(table.filter(pc.invert(mask)))
