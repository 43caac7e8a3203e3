"""Commands on real files: they find the ingested file from any working directory, refuse clearly (and change
nothing) when they cannot, take the options the other commands take, and print every fix intact."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from cim.cli import app
from cim.store import Store
from tests.models import CITY_E, CITY_N, add_box, add_door_in_opening, add_pipe, add_wall, new_model, write

runner = CliRunner()


def _city(folder, models: str = "") -> object:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "cim.toml"
    config.write_text(f'[city]\nname = "t"\ncrs = "EPSG:4549"\n{models}')
    return config


def _building(path):
    f, ctx = new_model()
    wall = add_wall(f, ctx, name="W1", length=5.0, height=3.0, thickness=0.2)
    add_door_in_opening(f, ctx, wall, corner=(2.0, -0.01, 0.0), size=(0.9, 0.22, 2.1))
    return write(f, path)


def _quantities(store_dir):
    return Store(store_dir, create=False).read("quantities").to_pylist()


def test_cim_qto_finds_the_ingested_file_from_any_folder_and_refuses_without_changing_the_takeoff(tmp_path,
                                                                                                   monkeypatch):
    city = tmp_path / "city"
    config = _city(city)
    (city / "models").mkdir()
    _building(city / "models" / "house.ifc")
    store = tmp_path / "store"
    monkeypatch.chdir(city)
    ingest = runner.invoke(app, ["ingest", "models/house.ifc", "--config", str(config), "--store", str(store)])
    assert ingest.exit_code == 0, ingest.output
    model = Store(store, create=False).latest("house")
    assert model["source_path"] == "models/house.ifc" and model["source_root"] == str(city.resolve())
    nightly = _quantities(store)
    elsewhere = tmp_path / "repo"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the README runs `cim qto` from the repository root
    found = runner.invoke(app, ["qto", "house", "--store", str(store)])
    assert found.exit_code == 0, found.output
    assert not any("approximate" in (r["note"] or "") for r in _quantities(store))
    assert sorted(map(str, _quantities(store))) == sorted(map(str, nightly))
    shutil.move(city / "models" / "house.ifc", tmp_path / "moved.ifc")
    refused = runner.invoke(app, ["qto", "house", "--store", str(store)])
    assert refused.exit_code == 2
    assert "error:" in refused.output and "pass --ifc path/to/the/ingested.ifc" in refused.output
    assert sorted(map(str, _quantities(store))) == sorted(map(str, nightly))  # nothing overwritten


def test_cim_tunnel_on_a_building_says_no_tunnel_found_in_one_line_and_writes_nothing(tmp_path):
    path = _building(tmp_path / "house.ifc")
    store = tmp_path / "store"
    assert runner.invoke(app, ["ingest", str(path), "--crs", "EPSG:4549", "--store", str(store)]).exit_code == 0
    result = runner.invoke(app, ["tunnel", "house", str(path), "--store", str(store)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "no tunnel found" in lines[0] and "recognised patterns are" in lines[0]
    opened = Store(store, create=False)
    assert [opened.read(t).num_rows for t in ("tunnel_assets", "tunnel_compartments", "tunnel_findings")] == [0, 0, 0]


def _tunnel_without_georef(path):
    f, ctx = new_model(georef=False)
    ctx["storey"].Name = "热力舱 Heat compartment"
    add_pipe(f, ctx, name="Heat main DN300", start=(0.0, 0.0, 1.0), length=20.0, diameter=0.3)
    add_box(f, ctx, "IfcSensor", name="Sensor", corner=(5.0, 0.5, 2.0), size=(0.2, 0.2, 0.2))
    return write(f, path)


def test_cim_tunnel_takes_the_placement_from_config_like_the_other_commands(tmp_path, monkeypatch):
    city = tmp_path / "city"
    config = _city(city, f'[models."tunnel.ifc"]\nplacement = {{ eastings = {CITY_E}, northings = {CITY_N} }}\n')
    path = _tunnel_without_georef(city / "tunnel.ifc")
    store = tmp_path / "store"
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["ingest", str(path), "--config", str(config), "--store", str(store)]).exit_code == 0
    without = runner.invoke(app, ["tunnel", "tunnel", str(path), "--store", str(store)])
    assert without.exit_code == 2 and 'add [models."tunnel.ifc"] placement = {eastings=' in without.output
    result = runner.invoke(app, ["tunnel", "tunnel", "--config", str(config), "--store", str(store)])
    assert result.exit_code in (0, 1), result.output
    assets = Store(store, create=False).read("tunnel_assets").to_pylist()
    assert {a["name"] for a in assets} >= {"Heat main DN300"}
    assert all(abs(a["elevation_m"]) < 10 for a in assets)


def test_a_refused_ingest_prints_the_config_fix_intact(tmp_path):
    f, ctx = new_model(georef=False)
    add_wall(f, ctx, name="W1")
    path = write(f, tmp_path / "x.ifc")
    result = runner.invoke(app, ["ingest", str(path), "--crs", "EPSG:4549", "--store", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert 'add [models."x.ifc"] placement = {eastings=..., northings=...} to cim.toml' in result.output


def _utm_model(path, start):
    f, ctx = new_model(eastings=545_000.0, northings=4_185_000.0, height=0.0)
    f.by_type("IfcProjectedCRS")[0].Name = "EPSG:32610"
    add_wall(f, ctx, name=f"wall {start}", start=start)
    return write(f, path)


def test_cim_clash_files_checks_files_outside_the_sample_city_with_crs_or_their_own(tmp_path):
    a = _utm_model(tmp_path / "a.ifc", (0.0, 0.0, 0.0))
    b = _utm_model(tmp_path / "b.ifc", (2.0, 0.0, 0.0))
    given = runner.invoke(app, ["clash", "files", str(a), str(b), "--crs", "EPSG:32610", "--out", str(tmp_path / "o")])
    assert given.exit_code == 1, given.output
    declared = runner.invoke(app, ["clash", "files", str(a), str(b), "--out", str(tmp_path / "p")])
    assert declared.exit_code == 1, declared.output
    assert (tmp_path / "p" / "clashes.json").exists()


def test_cim_tunnel_on_a_tunnel_facility_without_compartments_writes_its_assets_without_crashing(tmp_path):
    import ifcopenshell.api

    f, ctx = new_model("IFC4X3")
    run = ifcopenshell.api.run
    facility = run("root.create_entity", f, ifc_class="IfcFacility", name="Utility tunnel")
    facility.ObjectType = "UtilityTunnel"
    run("aggregate.assign_object", f, relating_object=ctx["site"], products=[facility])
    run("geometry.edit_object_placement", f, product=facility)
    ctx["storey"] = facility
    add_pipe(f, ctx, name="Water main DN300", start=(0.0, 0.0, 1.0), length=20.0, diameter=0.3)
    path = write(f, tmp_path / "tunnel.ifc")
    store = tmp_path / "store"
    assert runner.invoke(app, ["ingest", str(path), "--crs", "EPSG:4549", "--store", str(store)]).exit_code == 0
    result = runner.invoke(app, ["tunnel", "tunnel", str(path), "--store", str(store)])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no crash half-way
    opened = Store(store, create=False)
    assert [a["name"] for a in opened.read("tunnel_assets").to_pylist()] == ["Water main DN300"]
    assert opened.read("tunnel_compartments").num_rows == 0
