"""`cim export` for GIS users: GeoPackage, FlatGeobuf and a QGIS project that GDAL 3.6 and QGIS open.

Every output is read back without cim's code: with pyogrio, with the system's `ogrinfo` (Debian's gdal-bin)
and with QGIS's own Python API (Debian's python3-qgis) when they are installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pyogrio
import pytest
import shapely
from typer.testing import CliRunner

from cim.cli import app
from cim.gis_export import export

runner = CliRunner()
SYSTEM_PYTHON = Path("/usr/bin/python3")
DERIVED = {"tunnel_axis", "protection_zones"}


@pytest.fixture(scope="module")
def exported(sample_city, tmp_path_factory):
    """The sample city, clash-checked once, exported to GeoPackage, FlatGeobuf and a QGIS project."""
    from cim.clash.run import check_city

    store, config, _ = sample_city
    if store.read("clashes").num_rows == 0:
        check_city(store, ground_z=config.ground_elevation_m, base=config.root, full=True)
    out = tmp_path_factory.mktemp("gis")
    job = export(store, {"gpkg": out / "city.gpkg", "fgb": out / "fgb", "qgis": out / "city.qgz"})
    return store, out, job


def store_counts(store) -> dict[str, int]:
    return {name: store.read_current(name).num_rows for name in store.table_names() if name != "meshes"}


def spatial_tables(store) -> set[str]:
    from cim.query import geometry_columns

    return {n for n in store.table_names() if n != "meshes" and geometry_columns(store, n)}


def ogrinfo_layers(path: Path) -> dict[str, dict]:
    """`ogrinfo -so -al` of a file, parsed: layer name -> feature count, geometry and last EPSG id."""
    result = subprocess.run(["ogrinfo", "-ro", "-so", "-al", str(path)], capture_output=True, text=True, check=True,
                            timeout=300)
    assert "partially supported" not in result.stderr, result.stderr
    layers = {}
    for block in result.stdout.split("Layer name: ")[1:]:
        name = block.splitlines()[0].strip()
        epsg = re.findall(r'ID\["EPSG",(\d+)\]\]\s*$', block.split("Data axis")[0], re.M)
        layers[name] = {"count": int(re.search(r"Feature Count: (\d+)", block).group(1)),
                        "geometry": re.search(r"Geometry: (.+)", block).group(1).strip(),
                        "epsg": epsg[-1] if epsg else None}
    return layers


def needs_ogrinfo() -> None:
    if shutil.which("ogrinfo") is None:
        pytest.skip("ogrinfo (gdal-bin) is not installed")


def needs_pyqgis() -> None:
    if not SYSTEM_PYTHON.exists() or subprocess.run([str(SYSTEM_PYTHON), "-c", "import qgis.core"],
                                                    capture_output=True, timeout=120).returncode != 0:
        pytest.skip("QGIS's Python API (python3-qgis) is not installed")


# ---- GeoPackage ----------------------------------------------------------------------------------------------

def test_the_geopackage_has_a_layer_per_table_with_the_store_s_row_counts(exported):
    store, out, _ = exported
    gpkg = out / "city.gpkg"
    layers = {name: geom for name, geom in pyogrio.list_layers(gpkg)}
    expected = store_counts(store)
    assert set(layers) == set(expected) | DERIVED
    assert "meshes" not in layers
    for name, rows in expected.items():
        assert pyogrio.read_info(gpkg, layer=name)["features"] == rows, name
    assert expected["clashes"] > 0 and expected["parcels"] == 11 and expected["buildings"] > 0


def test_geopackage_layers_with_geometry_carry_the_city_epsg_code_and_the_others_are_tables(exported):
    store, out, _ = exported
    layers = dict(pyogrio.list_layers(out / "city.gpkg"))
    for name in spatial_tables(store) | DERIVED:
        info = pyogrio.read_info(out / "city.gpkg", layer=name)
        assert info["crs"] == "EPSG:4549", name
    for name in set(layers) - spatial_tables(store) - DERIVED:
        assert layers[name] is None, name  # an attribute table: QGIS opens it as a table to join


def test_ogrinfo_of_debian_s_gdal_reads_every_geopackage_layer_with_its_count_and_crs(exported):
    needs_ogrinfo()
    store, out, _ = exported
    layers = ogrinfo_layers(out / "city.gpkg")
    expected = store_counts(store)
    assert set(layers) == set(expected) | DERIVED
    for name, rows in expected.items():
        assert layers[name]["count"] == rows, name
    for name in spatial_tables(store) | DERIVED:
        assert layers[name]["epsg"] == "4549", name
    assert layers["clashes"]["geometry"] == "3D Point"
    assert layers["models"]["geometry"] == "None"


def test_list_columns_become_json_text_and_no_binary_column_is_left(exported):
    store, out, _ = exported
    elements = pyogrio.read_dataframe(out / "city.gpkg", layer="elements", read_geometry=False)
    with_materials = elements["materials"].dropna()
    assert len(with_materials) and all(isinstance(json.loads(v), list) for v in with_materials)
    clashes = pyogrio.read_dataframe(out / "city.gpkg", layer="clashes")
    assert all(isinstance(json.loads(v), list) for v in clashes["history"])
    assert {f.type for f in store.read("elements").schema if f.name == "materials"} != {"string"}


def test_buildings_keep_their_footprint_as_the_layer_geometry_and_their_heights(exported):
    store, out, _ = exported
    frame = pyogrio.read_dataframe(out / "city.gpkg", layer="buildings")
    rows = store.read_current("buildings").to_pylist()
    assert sorted(frame["global_id"]) == sorted(r["global_id"] for r in rows)
    by_id = {r["global_id"]: r for r in rows}
    for gid, geom, height in zip(frame["global_id"], frame.geometry, frame["height_m"], strict=True):
        stored = shapely.from_wkb(by_id[gid]["footprint"])
        assert geom.equals(shapely.geometry.MultiPolygon([stored]) if stored.geom_type == "Polygon" else stored)
        assert height == pytest.approx(by_id[gid]["height_m"])


def test_the_tunnel_axis_and_its_protection_zone_are_layers(exported):
    store, out, _ = exported
    axis = pyogrio.read_dataframe(out / "city.gpkg", layer="tunnel_axis")
    assert len(axis) >= 1 and set(axis["model_id"]) == {"tunnel-binhai"}
    assert axis.geometry.iloc[0].geom_type == "LineString" and axis.geometry.iloc[0].length > 100
    zones = pyogrio.read_dataframe(out / "city.gpkg", layer="protection_zones")
    tunnel = zones[zones["rule"] == "tunnel-protection"]
    assert list(tunnel["source"]) == ["tunnel-binhai"] and list(tunnel["width_m"]) == [3.0]
    corridors = zones[zones["rule"] == "pipeline-clearance"]
    assert len(corridors) == store.read("pipelines").num_rows
    # the zone is the tunnel grown by 3 m: it covers the tunnel axis
    assert tunnel.geometry.iloc[0].buffer(0.01).contains(axis.geometry.iloc[0])


def test_clash_points_are_3d_points_with_their_status(exported):
    store, out, _ = exported
    frame = pyogrio.read_dataframe(out / "city.gpkg", layer="clashes")
    rows = {r["clash_id"]: r for r in store.read("clashes").to_pylist()}
    assert sorted(frame["clash_id"]) == sorted(rows)
    for cid, status, point in zip(frame["clash_id"], frame["status"], frame.geometry, strict=True):
        assert status == rows[cid]["status"]
        assert point.has_z and (point.x, point.y, point.z) == pytest.approx((rows[cid]["x"], rows[cid]["y"],
                                                                            rows[cid]["z"]))


def test_a_second_geometry_column_becomes_wkt_text_lists_json_and_binary_columns_are_left_out(tmp_path):
    import pyarrow as pa

    from cim.gis_export.geopackage import write_geopackage
    from cim.gis_export.layers import as_layer

    square, two = shapely.box(0, 0, 1, 1), shapely.MultiPolygon([shapely.box(2, 2, 3, 3), shapely.box(4, 4, 5, 5)])
    table = pa.table({"id": ["a", "b", "c"],
                      "outline": pa.array([shapely.to_wkb(square), shapely.to_wkb(two), None], pa.binary()),
                      "centre": pa.array([shapely.to_wkb(shapely.Point(1, 2))] * 3, pa.binary()),
                      "tags": pa.array([["x", "y"], None, []], pa.list_(pa.string())),
                      "blob": pa.array([b"\x00", b"\x01", b"\x02"], pa.binary())})
    layer = as_layer("t", table, ["outline", "centre"])
    assert layer.geometry == "outline" and layer.geometry_type == "MultiPolygon"  # one type: singles promoted
    write_geopackage([layer], "EPSG:4549", tmp_path / "t.gpkg")
    frame = pyogrio.read_dataframe(tmp_path / "t.gpkg", layer="t")
    assert list(frame.columns) == ["id", "centre", "tags", "geometry"]
    assert list(frame["centre"]) == ["POINT (1 2)"] * 3
    assert [json.loads(v) if isinstance(v, str) else None for v in frame["tags"]] == [["x", "y"], None, []]
    assert frame.geometry.iloc[0].equals(shapely.MultiPolygon([square])) and frame.geometry.iloc[2] is None
    assert pyogrio.read_info(tmp_path / "t.gpkg", layer="t")["geometry_name"] == "outline"
    assert any("blob" in n for n in layer.notes) and any("centre" in n and "WKT" in n for n in layer.notes)


# ---- FlatGeobuf ----------------------------------------------------------------------------------------------

def test_flatgeobuf_has_a_file_per_layer_with_geometry_with_counts_and_crs(exported):
    store, out, job = exported
    expected = store_counts(store)
    files = {p.stem: p for p in (out / "fgb").glob("*.fgb")}
    assert set(files) == spatial_tables(store) | DERIVED
    for name in spatial_tables(store):
        info = pyogrio.read_info(files[name], force_feature_count=True)  # an empty FlatGeobuf says -1
        assert info["features"] == expected[name] and info["crs"] == "EPSG:4549", name
    assert any("FlatGeobuf holds features only" in n and "models" in n for n in job.notes)
    assert not [p for p in (out / "fgb").iterdir() if p.name.startswith(".")]


def test_ogrinfo_of_debian_s_gdal_reads_every_flatgeobuf_file(exported):
    needs_ogrinfo()
    store, out, _ = exported
    expected = store_counts(store)
    for path in sorted((out / "fgb").glob("*.fgb")):
        layers = ogrinfo_layers(path)
        assert list(layers) == [path.stem]
        assert layers[path.stem]["epsg"] == "4549", path.name
        if path.stem in expected:
            assert layers[path.stem]["count"] == expected[path.stem], path.name


# ---- QGIS project --------------------------------------------------------------------------------------------

def project_layers(qgz: Path) -> tuple[ET.Element, list[ET.Element]]:
    with zipfile.ZipFile(qgz) as archive:
        names = archive.namelist()
        assert names == [f"{qgz.stem}.qgs"]
        root = ET.fromstring(archive.read(names[0]))
    return root, root.findall("./projectlayers/maplayer")


def test_every_qgis_layer_source_resolves_to_a_geopackage_layer_beside_the_project(exported):
    _, out, _ = exported
    root, layers = project_layers(out / "city.qgz")
    assert root.findtext("./projectCrs/spatialrefsys/authid") == "EPSG:4549"
    in_gpkg = {name for name, _ in pyogrio.list_layers(out / "city.gpkg")}
    titles = {layer.findtext("layername") for layer in layers}
    assert {"Parcels", "Road red lines", "Building footprints", "LoD1 buildings (height_m)", "Pipelines",
            "Tunnel axis", "Protection zones", "Clash points (by status)"} <= titles
    for layer in layers:
        source = layer.findtext("datasource")
        path, *options = source.split("|")
        assert path == "./city.gpkg" and layer.findtext("provider") == "ogr"
        params = dict(o.split("=", 1) for o in options)
        assert params["layername"] in in_gpkg, source
        assert (out / path).resolve() == (out / "city.gpkg").resolve()
        assert layer.find("renderer-v2") is not None
    clashes = next(la for la in layers if la.findtext("layername").startswith("Clash points"))
    renderer = clashes.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "status"
    assert {c.get("value") for c in renderer.iter("category")} >= {"new", "active", "resolved", "approved"}
    parcels = next(la for la in layers if la.findtext("layername") == "Parcels")
    assert parcels.get("labelsEnabled") == "1"
    assert parcels.find("./labeling/settings/text-style").get("fieldName") == "parcel_id"


QGIS_OPEN = """
import json, sys
from qgis.core import QgsApplication, QgsProject
app = QgsApplication([], False)
app.initQgis()
try:  # the 3D renderers (LoD1 extrusion) register with QGIS's 3D library, which the desktop app loads
    import qgis._3d
    qgis._3d.Qgs3D.initialize()
except ImportError:
    pass
project = QgsProject.instance()
ok = project.read(sys.argv[1])
layers = [{"name": la.name(), "valid": la.isValid(), "source": la.source(), "crs": la.crs().authid(),
           "count": la.featureCount(), "renderer": la.renderer().type(), "labels": la.labelsEnabled(),
           "renderer3d": la.renderer3D().type() if la.renderer3D() else None}
          for la in project.mapLayers().values()]
print("RESULT " + json.dumps({"ok": ok, "crs": project.crs().authid(), "layers": layers}))
app.exitQgis()
"""


def test_qgis_opens_the_moved_project_with_every_layer_valid_in_the_city_crs(exported, tmp_path):
    needs_pyqgis()
    store, out, _ = exported
    moved = tmp_path / "moved elsewhere"
    moved.mkdir()
    for name in ("city.qgz", "city.gpkg"):
        shutil.copy2(out / name, moved / name)  # relative sources: the folder can be moved
    script = tmp_path / "open_project.py"
    script.write_text(QGIS_OPEN, encoding="utf-8")
    env = {"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path),
           "PATH": "/usr/bin:/bin"}
    result = subprocess.run([str(SYSTEM_PYTHON), str(script), str(moved / "city.qgz")], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=600)
    line = next((x for x in result.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line, result.stdout[-2000:] + result.stderr[-2000:]
    opened = json.loads(line.removeprefix("RESULT "))
    assert opened["ok"] and opened["crs"] == "EPSG:4549"
    layers = {la["name"]: la for la in opened["layers"]}
    assert len(layers) == len(project_layers(out / "city.qgz")[1])
    for la in layers.values():
        assert la["valid"] and la["crs"] == "EPSG:4549", la
        assert la["source"].startswith(str(moved / "city.gpkg")), la
    assert layers["Clash points (by status)"]["count"] == store.read("clashes").num_rows
    assert layers["Clash points (by status)"]["renderer"] == "categorizedSymbol"
    buildings = store.read_current("buildings").to_pylist()
    assert layers["LoD1 buildings (height_m)"]["count"] == \
        len([b for b in buildings if b["kind"] == "building" and b["height_m"] is not None])
    assert layers["Parcels"]["count"] == 11 and layers["Parcels"]["labels"]
    assert layers["LoD1 buildings (height_m)"]["renderer3d"] == "vector"  # extruded by height_m in the 3D view


def qgis_process() -> str:
    """Debian's qgis_process: its wrapper script adds /etc/default/qgis's --noversioncheck, which qgis_process
    3.22 refuses, so the binary beside it is run when there is one."""
    found = shutil.which("qgis_process")
    if found is None:
        pytest.skip("qgis_process (Debian's qgis) is not installed")
    binary = Path(found).with_name("qgis_process.bin")
    return str(binary if binary.exists() else found)


def test_qgis_process_opens_the_project_and_finds_every_layer_in_the_city_crs(exported, tmp_path):
    command = qgis_process()
    _, out, _ = exported
    _, layers = project_layers(out / "city.qgz")
    titles = [la.findtext("layername") for la in layers]
    info = tmp_path / "layers_info.gpkg"
    env = {"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path),
           "PATH": "/usr/bin:/bin"}
    result = subprocess.run([command, "run", "native:exportlayersinformation", f"--project_path={out / 'city.qgz'}",
                             "--", *(f"LAYERS={t}" for t in titles), f"OUTPUT={info}"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    found = pyogrio.read_dataframe(info, read_geometry=False)
    assert sorted(found["name"]) == sorted(titles)
    assert set(found["crs"]) == {"EPSG:4549"} and set(found["provider"]) == {"ogr"}
    assert {Path(p).resolve() for p in found["file_path"]} == {(out / "city.gpkg").resolve()}


# ---- the command ---------------------------------------------------------------------------------------------

def test_cim_export_without_an_output_says_so_in_one_line(tmp_path):
    result = runner.invoke(app, ["export", "--store", str(tmp_path / "none")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "nothing to export" in lines[0] and "--gpkg" in lines[0]


def test_cim_export_qgis_alone_writes_the_geopackage_beside_the_project(exported, tmp_path):
    store, _, _ = exported
    target = tmp_path / "maps" / "binhai.qgz"
    result = runner.invoke(app, ["export", "--qgis", str(target), "--store", str(store.root)])
    assert result.exit_code == 0, result.output
    assert target.exists() and (tmp_path / "maps" / "binhai.gpkg").exists()
    _, layers = project_layers(target)
    assert {la.findtext("datasource").split("|")[0] for la in layers} == {"./binhai.gpkg"}
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == ["binhai.gpkg", "binhai.qgz"]


def test_a_failed_geopackage_export_leaves_the_previous_file_whole_and_no_temp_files(exported, tmp_path,
                                                                                     monkeypatch):
    from cim.errors import CimError
    from cim.gis_export import geopackage

    store, out, _ = exported
    target = tmp_path / "city.gpkg"
    shutil.copy2(out / "city.gpkg", target)
    before = target.read_bytes()
    real = geopackage.write_layer
    calls = []

    def fail_on_third(layer, *args, **kwargs):
        calls.append(layer.name)
        if len(calls) == 3:
            raise geopackage.ExportError(target, f"GDAL could not write layer {layer.name!r}: disk full")
        return real(layer, *args, **kwargs)

    monkeypatch.setattr(geopackage, "write_layer", fail_on_third)
    with pytest.raises(CimError, match="could not write layer"):
        export(store, {"gpkg": target})
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["city.gpkg"]
