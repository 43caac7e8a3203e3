"""`cim export --3dtiles`: every meshed element is a feature with its metadata, vertices come back to the city
CRS within 5 mm, tiles are bounded, a second export rewrites nothing, and bad input is refused in one line
with nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cim.cli import app
from cim.tiles import export_tileset
from cim.tiles.glb import accessor_array, read_glb, read_strings
from cim.tiles.validate import leaves, worst_vertex_error

runner = CliRunner()


@pytest.fixture(scope="module")
def city_tiles(sample_city, tmp_path_factory):
    """The sample city exported once (ground at the config's elevation)."""
    store, config, _ = sample_city
    out = tmp_path_factory.mktemp("tiles") / "city"
    summary = export_tileset(store, out, ground_z=config.ground_elevation_m)
    return store, out, summary


def features_of(out: Path) -> list[dict]:
    """Every feature of every tile: its properties (from the property table) and vertex count."""
    rows = []
    tileset = json.loads((out / "tileset.json").read_text())
    for leaf in leaves(tileset["root"]):
        gltf, binary = read_glb((out / leaf["content"]["uri"]).read_bytes())
        table = gltf["extensions"]["EXT_structural_metadata"]["propertyTables"][0]
        primitive = gltf["meshes"][0]["primitives"][0]
        ids = accessor_array(gltf, binary, primitive["attributes"]["_FEATURE_ID_0"])[:, 0].astype(int)
        columns = {name: read_strings(gltf, binary, name) for name in table["properties"] if name != "version"}
        for i in range(table["count"]):
            rows.append({**{k: v[i] for k, v in columns.items()}, "n_vertices": int((ids == i).sum()),
                         "feature_count": primitive["extensions"]["EXT_mesh_features"]["featureIds"][0]
                         ["featureCount"], "uri": leaf["content"]["uri"]})
    return rows


def test_every_meshed_element_is_one_feature_with_its_elements_metadata(city_tiles) -> None:
    store, out, summary = city_tiles
    rows = features_of(out)
    meshes = store.read_current("meshes").select(["model_id", "version", "global_id"]).to_pylist()
    want = {f"{m['model_id']}/{m['version']}/{m['global_id']}" for m in meshes}
    got = {r["element_key"] for r in rows if r["kind"] == "ifc"}
    assert got == want
    assert len(rows) == len(set(r["element_key"] for r in rows)) == summary.n_features
    elements = {(e["model_id"], e["global_id"]): e for e in store.read_current("elements").to_pylist()}
    for row in rows:
        if row["kind"] != "ifc":
            continue
        element = elements[(row["model_id"], row["global_id"])]
        assert row["ifc_class"] == element["ifc_class"]
        assert row["storey"] == (element["storey"] or "")
        assert row["systems"] == "; ".join(element["systems"] or [])
        assert row["n_vertices"] > 0
    tunnel_systems = [r for r in rows if r["model_id"] == "tunnel-binhai" and r["systems"]]
    assert tunnel_systems, "the tunnel's elements carry their systems"


def test_context_buildings_are_extruded_features_and_ifc_buildings_are_not_doubled(city_tiles) -> None:
    store, out, summary = city_tiles
    context = [r for r in features_of(out) if r["model_id"] == "buildings_existing"]
    layer = store.read("buildings_existing").to_pylist()
    shown = {r["model_id"] for r in store.current_models().to_pylist() if r["n_meshes"] > 0}
    expected = {str(f["feature_id"]) for f in layer if f["building_id"] not in shown}
    assert {r["global_id"] for r in context} == expected and expected
    assert all(r["kind"] == "gis" and r["element_key"].startswith("buildings_existing/") for r in context)
    assert any("left out because an exported IFC model shows them" in n for n in summary.notes)


def test_vertices_read_back_from_the_tiles_match_the_store_within_5_mm(city_tiles) -> None:
    store, out, _ = city_tiles
    worst, compared = worst_vertex_error(store, out)
    assert compared == store.read_current("meshes").num_rows
    assert worst <= 0.005


def test_the_tunnel_is_below_the_ground_in_the_tileset(city_tiles) -> None:
    _, out, _ = city_tiles
    tileset = json.loads((out / "tileset.json").read_text())
    tunnel_tiles = {r["uri"] for r in features_of(out) if r["model_id"] == "tunnel-binhai"}
    lowest = min(leaf["boundingVolume"]["region"][4] for leaf in leaves(tileset["root"])
                 if leaf["content"]["uri"] in tunnel_tiles)
    assert lowest < 0.0  # the tunnel floor is at -2 m, the ground at +5 m


def test_each_tile_holds_at_most_the_feature_limit_inside_its_parent(sample_city, tmp_path) -> None:
    store, _, _ = sample_city
    summary = export_tileset(store, tmp_path / "t", models=["block-a", "binhai-school"], max_features=300)
    rows = features_of(tmp_path / "t")
    assert summary.n_tiles >= 4 and max(r["feature_count"] for r in rows) <= 300
    tileset = json.loads((tmp_path / "t" / "tileset.json").read_text())

    def inside(tile: dict) -> None:
        w, s, e, n, lo, hi = tile["boundingVolume"]["region"]
        for child in tile.get("children", []):
            cw, cs, ce, cn, clo, chi = child["boundingVolume"]["region"]
            assert w <= cw and s <= cs and ce <= e and cn <= n and lo <= clo and chi <= hi
            assert child["geometricError"] <= tile["geometricError"]
            inside(child)

    inside(tileset["root"])


def test_a_second_export_of_an_unchanged_city_rewrites_no_tile(city_tiles) -> None:
    store, out, first = city_tiles
    stamps = {p: p.stat().st_mtime_ns for p in (out / "tiles").iterdir()}
    again = export_tileset(store, out, ground_z=5.0)
    assert (again.n_written, again.n_reused) == (0, first.n_tiles)
    assert {p: p.stat().st_mtime_ns for p in (out / "tiles").iterdir()} == stamps


def two_model_store(root: Path, far_wall_y: float = 0.0):
    from cim.config import default_config
    from cim.ingest.run import ingest_file
    from cim.store import Store
    from tests.models import add_wall, new_model, write

    store = Store(root / "store", "EPSG:4549")
    for name, east in (("north", 464_900.0), ("far", 465_300.0)):
        f, ctx = new_model(eastings=east)
        add_wall(f, ctx, name="Wall A", start=(0.0, far_wall_y if name == "far" else 0.0, 0.0))
        add_wall(f, ctx, name="Wall B", start=(0.0, 6.0, 0.0))
        ingest_file(store, default_config("EPSG:4549"), write(f, root / f"{name}.ifc"))
    return store


def test_a_changed_model_rewrites_only_its_own_tiles_and_drops_the_old_ones(tmp_path) -> None:
    store = two_model_store(tmp_path)
    out = tmp_path / "tiles"
    first = export_tileset(store, out, max_features=2)
    assert (first.n_tiles, first.n_written) == (2, 2)
    before = set((out / "tiles").iterdir())
    moved = two_model_store(tmp_path / "v2", far_wall_y=1.5)  # the far model, one wall moved
    from cim.config import default_config
    from cim.ingest.run import ingest_file

    ingest_file(store, default_config("EPSG:4549"), tmp_path / "v2" / "far.ifc")
    assert moved is not None
    second = export_tileset(store, out, max_features=2)
    assert (second.n_written, second.n_reused) == (1, 1)
    after = set((out / "tiles").iterdir())
    assert len(after) == 2 and len(before & after) == 1
    named = {leaf["content"]["uri"] for leaf in leaves(json.loads((out / "tileset.json").read_text())["root"])}
    assert {f"tiles/{p.name}" for p in after} == named


def test_a_failed_update_leaves_the_previous_tileset_whole(tmp_path, monkeypatch) -> None:
    store = two_model_store(tmp_path)
    out = tmp_path / "tiles"
    export_tileset(store, out, max_features=2)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    from cim.config import default_config
    from cim.ingest.run import ingest_file

    two_model_store(tmp_path / "v2", far_wall_y=1.5)
    ingest_file(store, default_config("EPSG:4549"), tmp_path / "v2" / "far.ifc")
    ingest_file(store, default_config("EPSG:4549"), tmp_path / "v2" / "north.ifc")
    import cim.tiles.export as export_module

    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    real = export_module.write_glb
    monkeypatch.setattr(export_module, "write_glb", failing)
    with pytest.raises(OSError):
        export_tileset(store, out, max_features=2)
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_a_failed_first_export_leaves_no_folder_behind(tmp_path, monkeypatch) -> None:
    store = two_model_store(tmp_path)
    import cim.tiles.export as export_module

    def failing(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_module, "write_glb", failing)
    with pytest.raises(OSError):
        export_tileset(store, tmp_path / "out" / "tiles")
    assert not (tmp_path / "out" / "tiles").exists()
    assert list((tmp_path / "out").iterdir()) == []


def one_line_exit_2(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    for needle in needles:
        assert needle in lines[0]


def test_an_unknown_model_is_refused_in_one_line_and_nothing_is_written(tmp_path) -> None:
    store = two_model_store(tmp_path)
    result = runner.invoke(app, ["export", "--3dtiles", str(tmp_path / "t"), "--model", "nope", "--store",
                                 str(store.root)])
    one_line_exit_2(result, "no model 'nope'", "far", "north")
    assert not (tmp_path / "t").exists()


def test_a_model_without_meshes_is_refused_in_one_line(city_store, tmp_path) -> None:
    result = runner.invoke(app, ["export", "--3dtiles", str(tmp_path / "t"), "--model", "parcels", "--store",
                                 str(city_store.root)])
    one_line_exit_2(result, "'parcels' has no meshes")
    assert not (tmp_path / "t").exists()


def test_an_empty_store_is_refused_in_one_line(tmp_path) -> None:
    from cim.store import Store

    Store(tmp_path / "empty", "EPSG:4549")
    result = runner.invoke(app, ["export", "--3dtiles", str(tmp_path / "t"), "--store", str(tmp_path / "empty")])
    one_line_exit_2(result, "nothing to export", "cim ingest")
    assert not (tmp_path / "t").exists()


def test_a_folder_holding_other_files_is_not_overwritten(tmp_path) -> None:
    store = two_model_store(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = runner.invoke(app, ["export", "--3dtiles", str(tmp_path / "mine"), "--store", str(store.root)])
    one_line_exit_2(result, "not empty")
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_version_and_phase_choose_what_is_exported(tmp_path) -> None:
    store = two_model_store(tmp_path)
    out = tmp_path / "t"
    result = runner.invoke(app, ["export", "--3dtiles", str(out), "--model", "far", "--version", "1", "--store",
                                 str(store.root)])
    assert result.exit_code == 0, result.output
    assert {r["model_id"] for r in features_of(out)} == {"far"}
    result = runner.invoke(app, ["export", "--3dtiles", str(out), "--model", "far", "--version", "7", "--store",
                                 str(store.root)])
    one_line_exit_2(result, "no version 7")
    result = runner.invoke(app, ["export", "--3dtiles", str(out), "--phase", "build", "--store", str(store.root)])
    one_line_exit_2(result, "phase 'build'")
    assert {r["model_id"] for r in features_of(out)} == {"far"}  # the refused runs left it as it was


def test_positions_are_local_so_float32_keeps_millimetres(city_tiles) -> None:
    _, out, _ = city_tiles
    tileset = json.loads((out / "tileset.json").read_text())
    for leaf in leaves(tileset["root"]):
        gltf, binary = read_glb((out / leaf["content"]["uri"]).read_bytes())
        position = gltf["accessors"][gltf["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]
        assert max(abs(v) for v in position["min"] + position["max"]) < 5_000  # not ECEF (6.4e6 m)
        assert np.linalg.norm(leaf["transform"][12:15]) > 6.3e6  # the tile frame carries the ECEF origin


def city_vertices(store, out: Path, model_id: str) -> dict[str, np.ndarray]:
    """Vertices of one model's features carried back to the city CRS, by global_id."""
    from cim.tiles.frame import CityFrame, to_ecef

    frame = CityFrame(store.crs)
    found = {}
    for leaf in leaves(json.loads((out / "tileset.json").read_text())["root"]):
        gltf, binary = read_glb((out / leaf["content"]["uri"]).read_bytes())
        attrs = gltf["meshes"][0]["primitives"][0]["attributes"]
        ids = accessor_array(gltf, binary, attrs["_FEATURE_ID_0"])[:, 0].astype(int)
        models = read_strings(gltf, binary, "model_id")
        wanted = [i for i, m in enumerate(models) if m == model_id]
        if not wanted:
            continue
        city = frame.city(to_ecef(accessor_array(gltf, binary, attrs["POSITION"]),
                                  np.array(leaf["transform"]).reshape(4, 4).T))
        gids = read_strings(gltf, binary, "global_id")
        for i in wanted:
            found[gids[i]] = city[ids == i]
    return found


def test_buried_pipelines_are_tubes_whose_top_is_their_cover_below_the_ground(city_tiles) -> None:
    store, out, _ = city_tiles
    tubes = city_vertices(store, out, "pipelines")
    layer = {str(f["feature_id"]): f for f in store.read("pipelines").to_pylist()}
    assert set(tubes) == set(layer)
    for gid, xyz in tubes.items():
        top = 5.0 - layer[gid]["depth_m"]
        assert xyz[:, 2].max() == pytest.approx(top, abs=0.002)
        assert xyz[:, 2].max() - xyz[:, 2].min() == pytest.approx(layer[gid]["diameter_mm"] / 1000, abs=0.002)


def test_a_one_tile_tileset_has_a_refining_root_and_a_city_sized_error(tmp_path) -> None:
    store = two_model_store(tmp_path)
    summary = export_tileset(store, tmp_path / "t")
    tileset = json.loads((tmp_path / "t" / "tileset.json").read_text())
    assert summary.n_tiles == 1 and "content" in tileset["root"]
    assert tileset["root"]["refine"] == "ADD"
    assert tileset["geometricError"] > 400  # the two models are 400 m apart


def test_3d_options_are_refused_with_the_gis_formats_in_one_line(tmp_path) -> None:
    result = runner.invoke(app, ["export", "--3dtiles", str(tmp_path / "t"), "--gpkg", str(tmp_path / "c.gpkg"),
                                 "--store", str(tmp_path / "none")])
    one_line_exit_2(result, "cannot be combined")
    result = runner.invoke(app, ["export", "--gpkg", str(tmp_path / "c.gpkg"), "--model", "x", "--store",
                                 str(tmp_path / "none")])
    one_line_exit_2(result, "--3dtiles and --cityjson only")
    result = runner.invoke(app, ["export", "--3dtiles", str(tmp_path / "t"), "--phase", "later", "--store",
                                 str(tmp_path / "none")])
    one_line_exit_2(result, "not a lifecycle phase")
    assert list(tmp_path.iterdir()) == []
