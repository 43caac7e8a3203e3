"""The sample city's tileset checked by the ecosystem's tools: the Khronos glTF validator (0 errors in every
GLB), 3d-tiles-tools reading tileset.json back with every tile, and the official 3D Tiles 1.1 JSON schemas.

The npm tools come from `make install` (viewer/node_modules); without node or them these tests skip."""

from __future__ import annotations

import json

import pytest

from cim.tiles import export_tileset
from cim.tiles.validate import gltf_reports, leaves, node_modules, read_back, tileset_schema_errors


@pytest.fixture(scope="module")
def city_tiles(sample_city, tmp_path_factory):
    store, config, _ = sample_city
    out = tmp_path_factory.mktemp("tiles-valid") / "city"
    export_tileset(store, out, ground_z=config.ground_elevation_m, max_features=1500)
    return out


needs_node = pytest.mark.skipif(node_modules() is None, reason="node or viewer/node_modules missing (make install)")


@needs_node
def test_every_glb_passes_the_khronos_gltf_validator_with_no_errors(city_tiles) -> None:
    paths = sorted((city_tiles / "tiles").glob("*.glb"))
    reports = gltf_reports(paths)
    assert len(reports) == len(paths) >= 2
    for report in reports:
        assert report["errors"] == 0, report
        assert report["warnings"] == 0, report


@needs_node
def test_the_gltf_validator_run_reports_a_broken_glb(tmp_path) -> None:
    broken = tmp_path / "broken.glb"
    broken.write_bytes(b"glTF\x02\x00\x00\x00\x10\x00\x00\x00garbage!")
    (report,) = gltf_reports([broken])
    assert report["errors"] > 0


@needs_node
def test_3d_tiles_tools_reads_the_tileset_back_with_every_tile(city_tiles) -> None:
    tileset = json.loads((city_tiles / "tileset.json").read_text())
    back, log = read_back(city_tiles)
    assert back == tileset
    assert "WARN" not in log and "ERROR" not in log, log


@needs_node
def test_3d_tiles_tools_read_back_notices_a_missing_tile(city_tiles, tmp_path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(city_tiles, copy)
    next((copy / "tiles").glob("*.glb")).unlink()
    _, log = read_back(copy)
    assert "WARN" in log


def test_tileset_json_validates_against_the_3d_tiles_1_1_schemas(city_tiles) -> None:
    tileset = json.loads((city_tiles / "tileset.json").read_text())
    assert tileset["asset"]["version"] == "1.1"
    assert tileset_schema_errors(tileset) == []
    for leaf in leaves(tileset["root"]):
        assert (city_tiles / leaf["content"]["uri"]).is_file()


def test_the_schema_check_catches_a_broken_tileset(city_tiles) -> None:
    tileset = json.loads((city_tiles / "tileset.json").read_text())
    tileset["root"]["boundingVolume"] = {"region": [0.1, 0.2]}
    del tileset["asset"]["version"]
    errors = tileset_schema_errors(tileset)
    assert any("region" in e for e in errors) and any("version" in e for e in errors)
