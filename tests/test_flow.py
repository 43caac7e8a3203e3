"""The nightly Prefect flow end to end: a bad file is quarantined, the rest ingested, unchanged skipped."""

from __future__ import annotations

import os

import geopandas as gpd
import pytest
import shapely

from cim.store import Store
from tests.models import add_wall, new_model, write

pytestmark = pytest.mark.flow


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def _inbox(root):
    inbox = root / "inbox"
    inbox.mkdir()
    for name, x in (("block_a", 0.0), ("block_b", 30.0)):
        f, ctx = new_model(eastings=464_900.0 + x)
        add_wall(f, ctx, name=f"{name} wall")
        write(f, inbox / f"{name}.ifc")
    (inbox / "broken.ifc").write_text("not an IFC file")
    gpd.GeoDataFrame({"parcel_id": ["P1"]}, geometry=[shapely.box(464_890, 2_865_790, 464_950, 2_865_820)],
                     crs="EPSG:4549").to_file(inbox / "city.gpkg", layer="parcels")
    (inbox / "submissions").mkdir()
    (inbox / "submissions" / "ignored.ifc").write_text("excluded by the config")
    config = root / "cim.toml"
    config.write_text('[city]\nname = "test"\ncrs = "EPSG:4549"\ninbox = ["inbox"]\nexclude = ["inbox/submissions/*"]\n'
                      '[models."inbox/block_b.ifc"]\nmodel_id = "b"\nphase = "build"\n')
    return config


def test_the_nightly_flow_quarantines_the_bad_file_ingests_the_rest_and_then_skips_them(tmp_path, prefect_server):
    from flows.nightly import nightly

    config = _inbox(tmp_path)
    store_dir = tmp_path / "store"
    first = nightly(config=str(config), store=str(store_dir))
    assert first["status"] == "completed with 1 quarantined"
    assert (first["n_inputs"], first["n_ingested"], first["n_quarantined"]) == (4, 3, 1)
    store = Store(store_dir, create=False)
    models = {m["model_id"]: m for m in store.read("models").to_pylist()}
    assert set(models) == {"block_a", "b", "parcels"}
    assert models["b"]["phase"] == "build" and models["block_a"]["phase"] == "manage"
    (error,) = store.read("ingest_errors").to_pylist()
    assert error["source_path"] == "inbox/broken.ifc" and error["stage"] == "open"

    second = nightly(config=str(config), store=str(store_dir))
    # the bad file, unchanged, stays in quarantine without a second error row
    assert (second["n_ingested"], second["n_unchanged"], second["n_quarantined"]) == (0, 3, 1)
    assert store.read("ingest_errors").num_rows == 1
    assert store.read("models").num_rows == 3  # nothing re-ingested
    assert [r["status"] for r in store.read("runs").to_pylist()] == ["completed with 1 quarantined"] * 2


def _clashing_model(path, *, fixed: bool) -> None:
    f, ctx = new_model()
    walls = [("wall", (0.0, 0.0, 0.0)), ("overlapping wall", (4.95, 0.0, 0.0))]
    if not fixed:
        walls.append(("copied wall", (0.0, 0.0, 0.0)))
    for name, start in walls:
        add_wall(f, ctx, name=name, start=start).GlobalId = name.replace(" ", "_").ljust(22, "0")[:22]
    write(f, path)


def test_three_nightly_runs_keep_clash_status_no_change_a_fix_and_an_approval(tmp_path, prefect_server):
    from cim.clash.run import change_status
    from flows.nightly import nightly

    (tmp_path / "inbox").mkdir()
    model = tmp_path / "inbox" / "block.ifc"
    _clashing_model(model, fixed=False)
    config = tmp_path / "cim.toml"
    config.write_text('[city]\nname = "test"\ncrs = "EPSG:4549"\ninbox = ["inbox"]\n')
    store_dir = tmp_path / "store"

    def state() -> dict[str, tuple[str, str, str]]:
        rows = Store(store_dir, create=False).read("clashes").to_pylist()
        return {r["clash_id"]: (r["mode"], r["status"], r["history"]) for r in rows}

    nightly(config=str(config), store=str(store_dir))
    first = state()
    assert sorted(mode for mode, _, _ in first.values()) == ["duplicate", "hard", "hard"]
    assert {status for _, status, _ in first.values()} == {"new"}
    assert (store_dir / "exports" / "clashes.bcfzip").exists() and (store_dir / "exports" / "clashes.json").exists()

    nightly(config=str(config), store=str(store_dir))  # nothing changed
    assert state() == first

    _clashing_model(model, fixed=True)  # the copied wall is deleted
    overlap = next(r["clash_id"] for r in Store(store_dir, create=False).read("clashes").to_pylist()
                   if {r["a_name"], r["b_name"]} == {"wall", "overlapping wall"})
    change_status(Store(store_dir, create=False), [overlap], "approved", "coordinator", "agreed overlap")
    nightly(config=str(config), store=str(store_dir))
    third = state()
    assert third[overlap][1] == "approved"
    assert sorted(status for c, (_, status, _) in third.items() if c != overlap) == ["resolved", "resolved"]


def test_one_bad_file_never_fails_the_night_even_when_its_commit_or_its_quarantine_fails(tmp_path, prefect_server):
    """A GeoJSON with `Name` and `name` (its Delta commit fails) and an IFC whose syntax error holds bytes that
    are not UTF-8 (recording its error row failed) used to fail the whole flow run: no runs row, no good file."""
    from flows.nightly import nightly

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    f, ctx = new_model()
    add_wall(f, ctx, name="wall")
    good = write(f, inbox / "block.ifc").read_bytes()
    start = good.index(b"DATA;") + 6
    (inbox / "garbled.ifc").write_bytes(good[:start] + b"#99999=IFCWALL(\xff\xfe\xc3(\x80 broken\n" + good[start:])
    gpd.GeoDataFrame({"Name": ["a"], "name": ["b"]}, geometry=[shapely.Point(464_900, 2_865_800)],
                     crs="EPSG:4549").to_file(inbox / "names.geojson")
    gpd.GeoDataFrame({"road": ["r1"]}, geometry=[shapely.LineString([(464_900, 2_865_800), (464_950, 2_865_800)])],
                     crs="EPSG:4549").to_file(inbox / "roads.geojson")
    config = tmp_path / "cim.toml"
    config.write_text('[city]\nname = "test"\ncrs = "EPSG:4549"\ninbox = ["inbox"]\n')

    result = nightly(config=str(config), store=str(tmp_path / "store"))

    assert result["status"].startswith("completed with")
    assert result["n_inputs"] == 4 and result["n_ingested"] + result["n_quarantined"] == 4
    store = Store(tmp_path / "store", create=False)
    (run,) = store.read("runs").to_pylist()
    assert run["run_id"] == result["run_id"]
    models = {m["model_id"] for m in store.read("models").to_pylist()}
    assert {"block", "roads"} <= models
    errors = {e["source_path"]: e for e in store.read("ingest_errors").to_pylist()}
    assert "inbox/garbled.ifc" in errors
    assert "names" in models or "inbox/names.geojson" in errors  # renamed columns, or that file's own error row
