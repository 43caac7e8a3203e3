"""What a BCF topic says about its sources: the IfcProject and building of each IFC file, and the city's name."""

from __future__ import annotations

from cim.clash import header
from cim.clash.header import city_name, ifc_roots
from cim.config import default_config, load_config
from cim.ingest.run import ingest_file
from cim.store import Store
from tests.models import add_wall, new_model, write


def test_the_ifc_project_and_building_are_read_from_the_file_even_across_read_chunks(tmp_path, monkeypatch):
    f, ctx = new_model()
    add_wall(f, ctx, name="wall")
    path = write(f, tmp_path / "m.ifc")
    expected = (ctx["project"].GlobalId, ctx["building"].GlobalId)
    assert ifc_roots(path) == expected
    monkeypatch.setattr(header, "_CHUNK", 37)  # every instance line is cut by a chunk boundary somewhere
    assert ifc_roots(path) == expected


def test_a_file_without_a_building_names_its_site_and_a_missing_file_names_nothing(tmp_path):
    f, ctx = new_model()
    f.remove(ctx["building"])
    path = write(f, tmp_path / "site_only.ifc")
    assert ifc_roots(path) == (ctx["project"].GlobalId, ctx["site"].GlobalId)
    assert ifc_roots(tmp_path / "gone.ifc") == (None, None)


def test_the_city_name_comes_from_the_config_else_the_cim_toml_of_the_ingested_files_never_the_store(tmp_path):
    folder = tmp_path / "haixia"
    folder.mkdir()
    (folder / "cim.toml").write_text('[city]\nname = "Haixia District"\ncrs = "EPSG:4549"\n', encoding="utf-8")
    f, ctx = new_model()
    add_wall(f, ctx, name="wall")
    model = write(f, folder / "m.ifc")
    store = Store(tmp_path / "cim-data", "EPSG:4549")
    assert city_name(store, None) == "city"  # an empty store: the default, not 'cim-data'
    ingest_file(store, load_config(folder / "cim.toml"), model)
    assert city_name(store, None) == "Haixia District"
    assert city_name(store, default_config("EPSG:4549")) == "city"
    (folder / "cim.toml").write_text('[city]\ncrs = "EPSG:4549"\n', encoding="utf-8")
    assert city_name(store, None) == "haixia"  # a config without a name: its folder's, as load_config says
