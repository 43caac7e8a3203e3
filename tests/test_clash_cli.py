"""`cim clash`: files checked without a store, between models; the store's check, list, approval and export."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
import zipfile

import pytest
from typer.testing import CliRunner

from cim.cli import app
from cim.config import default_config, load_config
from cim.ingest.run import ingest_file
from cim.store import Store
from tests.models import add_wall, new_model, write

runner = CliRunner()


def _model(path, name, start):
    f, ctx = new_model()
    add_wall(f, ctx, name=name, start=start)
    return write(f, path)


def test_two_models_whose_walls_overlap_clash_between_models(tmp_path):
    a = _model(tmp_path / "architecture.ifc", "wall A", (0.0, 0.0, 0.0))
    b = _model(tmp_path / "structure.ifc", "wall B", (2.0, 0.0, 0.0))
    result = runner.invoke(app, ["clash", "files", str(a), str(b), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    clashes = json.loads((tmp_path / "out" / "clashes.json").read_text())["clashes"]
    assert [(c["rule"], c["mode"]) for c in clashes] == [("between-models", "hard")]
    assert {c["a_model"] for c in clashes} | {c["b_model"] for c in clashes} == {"architecture", "structure"}
    assert clashes[0]["depth_m"] > 0.19  # the walls share 3 m of their length, 0.2 m thick
    assert (tmp_path / "out" / "clashes.bcfzip").stat().st_size > 0


def test_models_apart_have_no_clash_and_exit_0(tmp_path):
    a = _model(tmp_path / "a.ifc", "wall A", (0.0, 0.0, 0.0))
    b = _model(tmp_path / "b.ifc", "wall B", (0.0, 5.0, 0.0))
    result = runner.invoke(app, ["clash", "files", str(a), str(b), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output


def test_the_store_check_lists_approves_and_exports(tmp_path):
    store = Store(tmp_path / "store", "EPSG:4549")
    f, ctx = new_model()
    add_wall(f, ctx, name="wall A")
    add_wall(f, ctx, name="wall A copy")
    ingest_file(store, default_config("EPSG:4549", "plan"), write(f, tmp_path / "m.ifc"))
    check = runner.invoke(app, ["clash", "check", "--store", str(store.root), "--out", str(tmp_path / "x")])
    assert check.exit_code == 1, check.output
    listed = json.loads(runner.invoke(app, ["clash", "list", "--store", str(store.root), "--json"]).stdout)
    (clash,) = listed["clashes"]
    assert clash["mode"] == "duplicate"
    approve = runner.invoke(app, ["clash", "status", clash["clash_id"], "--to", "approved", "--note", "intended",
                                  "--store", str(store.root)])
    assert approve.exit_code == 0, approve.output
    again = runner.invoke(app, ["clash", "check", "--store", str(store.root)])
    assert again.exit_code == 0, again.output  # only approved clashes left
    export = runner.invoke(app, ["clash", "export", str(tmp_path / "e"), "--store", str(store.root)])
    assert export.exit_code == 0 and (tmp_path / "e" / "clashes.bcfzip").exists()


def _storey_model(path, name, start, storey):
    f, ctx = new_model()
    ctx["storey"].Name = storey
    add_wall(f, ctx, name=name, start=start)
    return write(f, path), f.by_type("IfcProject")[0].GlobalId, ctx["building"].GlobalId


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """Two models of a city named in its cim.toml, ingested with that config into a store called 'store',
    and checked: one hard clash between wall A (mep-b1, L2) and wall B (struct-b1, L3)."""
    root = tmp_path_factory.mktemp("city")
    folder = root / "binhai"
    folder.mkdir()
    (folder / "cim.toml").write_text('[city]\nname = "Binhai Test City"\ncrs = "EPSG:4549"\n\n'
                                     '[models."mep.ifc"]\nmodel_id = "mep-b1"\n\n'
                                     '[models."struct.ifc"]\nmodel_id = "struct-b1"\n', encoding="utf-8")
    mep = _storey_model(folder / "mep.ifc", "Duct", (0.0, 0.0, 0.0), "L2")
    struct = _storey_model(folder / "struct.ifc", "Beam", (2.0, 0.0, 0.0), "L3")
    config = load_config(folder / "cim.toml")
    store = Store(root / "store", "EPSG:4549")
    for path in (mep[0], struct[0]):
        ingest_file(store, config, path)
    check = runner.invoke(app, ["clash", "check", "--store", str(store.root)])
    assert check.exit_code == 1, check.output
    return store, folder, {"mep-b1": mep, "struct-b1": struct}


def test_clash_list_shows_the_model_and_storey_of_each_element(city):
    store, _, _ = city
    result = runner.invoke(app, ["clash", "list", "--store", str(store.root)], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "clash_id" in line)
    assert [c.strip() for c in header.strip("┃│ ").split("┃")][4:10] == ["A", "A model", "A storey", "B", "B model",
                                                                          "B storey"]
    row = next(line for line in result.stdout.splitlines() if "IfcWall" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert {(cells[5], cells[6]), (cells[8], cells[9])} == {("mep-b1", "L2"), ("struct-b1", "L3")}


def test_clash_list_with_an_unknown_status_is_an_error_naming_the_valid_statuses(city):
    store, _, _ = city
    result = runner.invoke(app, ["clash", "list", "--status", "bogus", "--store", str(store.root)],
                           env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "error:" in result.output and "bogus" in result.output
    assert "valid statuses: new, active, resolved, approved" in result.output


def _markup(bcfzip):
    with zipfile.ZipFile(bcfzip) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith("markup.bcf")]
        project = ET.fromstring(archive.read("project.bcfp"))
        return ET.fromstring(archive.read(name)), project


@pytest.mark.parametrize("version", ["2.1", "3.0"])
def test_the_store_bcf_names_both_models_and_storeys_their_ifc_files_and_the_city(city, tmp_path, version):
    store, folder, models = city
    result = runner.invoke(app, ["clash", "export", str(tmp_path), "--store", str(store.root),
                                 "--bcf-version", version])
    assert result.exit_code == 0, result.output
    markup, project = _markup(tmp_path / "clashes.bcfzip")
    assert project.findtext(".//Project/Name") == "Binhai Test City"  # the city, not the folder 'store'
    title = markup.findtext("Topic/Title")
    a, b = ("mep-b1 L2", "struct-b1 L3") if title.index("Duct") < title.index("Beam") else ("struct-b1 L3",
                                                                                             "mep-b1 L2")
    assert title.endswith(f": {a} / {b}") and "↔" in title
    description = markup.findtext("Topic/Description")
    assert "in mep-b1, storey L2" in description and "in struct-b1, storey L3" in description
    files = markup.findall("Header/File" if version == "2.1" else "Header/Files/File")
    written = {f.findtext("Filename"): (f.get("IfcProject"), f.get("IfcSpatialStructureElement")) for f in files}
    assert written == {"mep.ifc": models["mep-b1"][1:], "struct.ifc": models["struct-b1"][1:]}
    external = "isExternal" if version == "2.1" else "IsExternal"
    assert {f.get(external) for f in files} == {"true"}
    assert {f.findtext("Reference") for f in files} == {"mep.ifc", "struct.ifc"}
    assert all(f.findtext("Date") for f in files)


def test_a_store_export_without_a_config_takes_the_city_name_from_the_cim_toml_it_was_ingested_with(city, tmp_path):
    store, _, _ = city
    with_config = runner.invoke(app, ["clash", "export", str(tmp_path / "a"), "--store", str(store.root),
                                      "--config", str(city[1] / "cim.toml")])
    without = runner.invoke(app, ["clash", "export", str(tmp_path / "b"), "--store", str(store.root)])
    assert with_config.exit_code == 0 and without.exit_code == 0, with_config.output + without.output
    assert (tmp_path / "a" / "clashes.bcfzip").read_bytes() == (tmp_path / "b" / "clashes.bcfzip").read_bytes()
    assert _markup(tmp_path / "b" / "clashes.bcfzip")[1].findtext(".//Project/Name") == "Binhai Test City"


def test_exporting_twice_keeps_every_topic_guid_and_byte(city, tmp_path):
    store, _, _ = city
    for out in ("a", "b"):
        result = runner.invoke(app, ["clash", "export", str(tmp_path / out), "--store", str(store.root),
                                     "--bcf-version", "3.0"])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / "clashes.bcfzip").read_bytes() == (tmp_path / "b" / "clashes.bcfzip").read_bytes()


def test_an_unknown_bcf_version_is_refused(city, tmp_path):
    store, _, _ = city
    result = runner.invoke(app, ["clash", "export", str(tmp_path), "--store", str(store.root),
                                 "--bcf-version", "2.0"])
    assert result.exit_code == 2 and "2.1" in result.output and "3.0" in result.output
    assert not (tmp_path / "clashes.bcfzip").exists()


def test_checking_files_names_the_city_of_the_config_and_each_files_ifc_project(tmp_path):
    folder = tmp_path / "haixia"
    folder.mkdir()
    (folder / "cim.toml").write_text('[city]\nname = "Haixia"\ncrs = "EPSG:4549"\n', encoding="utf-8")
    a = _storey_model(folder / "architecture.ifc", "wall A", (0.0, 0.0, 0.0), "L1")
    b = _storey_model(folder / "structure.ifc", "wall B", (2.0, 0.0, 0.0), "L1")
    result = runner.invoke(app, ["clash", "files", str(a[0]), str(b[0]), "--out", str(tmp_path / "out"),
                                 "--config", str(folder / "cim.toml"), "--bcf-version", "3.0"])
    assert result.exit_code == 1, result.output
    markup, project = _markup(tmp_path / "out" / "clashes.bcfzip")
    assert project.findtext(".//Project/Name") == "Haixia"
    files = {f.findtext("Filename"): f.get("IfcProject") for f in markup.findall("Header/Files/File")}
    assert files == {"architecture.ifc": a[1], "structure.ifc": b[1]}


def test_the_store_s_bcf21_export_with_headers_validates_against_buildingsmarts_xsds(city, tmp_path):
    import xmlschema

    from tests.test_clash_bcf import SCHEMAS, XSD_OF, _entries, _xsd_errors

    store, _, _ = city
    result = runner.invoke(app, ["clash", "export", str(tmp_path / "out"), "--store", str(store.root)])
    assert result.exit_code == 0, result.output
    schemas = {name: xmlschema.XMLSchema(str(SCHEMAS / xsd)) for name, xsd in XSD_OF.items()}
    entries = _entries(tmp_path / "out" / "clashes.bcfzip")
    assert any(ET.fromstring(data).find("Header/File") is not None for name, data in entries.items()
               if name.endswith("markup.bcf"))
    errors = _xsd_errors(entries, schemas, tmp_path)
    assert len(errors) == 4 and errors == {name: [] for name in errors}
