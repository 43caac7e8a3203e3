"""Checks of an exported tileset with the ecosystem's own tools (used by tests and bench/tiles.py):

- every GLB through the Khronos glTF validator (npm ``gltf-validator``, run by ``validate.mjs`` in Node);
- tileset.json read back by ``3d-tiles-tools upgrade`` (it parses the tree and copies every tile it names);
- tileset.json against the official 3D Tiles 1.1 JSON schemas vendored in ``schemas/3dtiles``;
- the worst distance between GLB vertices carried back to the city CRS and the float64 store.

The npm packages are installed by ``make install`` into ``viewer/node_modules``; :func:`node_modules`
says whether they are there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from cim.store import Store
from cim.tiles.frame import CityFrame, to_ecef
from cim.tiles.glb import accessor_array, read_glb, read_strings

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas" / "3dtiles"
SCRIPT = Path(__file__).with_name("validate.mjs")


def node_modules() -> Path | None:
    """viewer/node_modules with gltf-validator and 3d-tiles-tools, when node and both are installed."""
    modules = ROOT / "viewer" / "node_modules"
    ready = (modules / "gltf-validator").is_dir() and (modules / ".bin" / "3d-tiles-tools").exists()
    return modules if ready and shutil.which("node") else None


def leaves(tile: dict):
    """Every tile of a tileset tree that has content."""
    if "content" in tile:
        yield tile
    for child in tile.get("children", []):
        yield from leaves(child)


def gltf_reports(paths: list[Path]) -> list[dict]:
    """The glTF validator's summary of each GLB: errors, warnings, infos and the first messages."""
    modules = node_modules()
    if modules is None:
        raise RuntimeError("node or viewer/node_modules is missing: run `make install`")
    done = subprocess.run(["node", str(SCRIPT), str(modules), *map(str, paths)], capture_output=True, text=True,
                          timeout=600)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"validate.mjs failed: {done.stderr.strip()}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def read_back(out_dir: Path) -> tuple[dict, str]:
    """tileset.json as 3d-tiles-tools parses and writes it back, and the tool's log (it warns about any
    content it cannot find)."""
    modules = node_modules()
    if modules is None:
        raise RuntimeError("node or viewer/node_modules is missing: run `make install`")
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "tileset.json"
        done = subprocess.run([str(modules / ".bin" / "3d-tiles-tools"), "upgrade", "-i",
                               str(out_dir / "tileset.json"), "-o", str(target), "--targetVersion", "1.1"],
                              capture_output=True, text=True, timeout=600)
        log = done.stdout + done.stderr
        if done.returncode != 0 or not target.is_file():
            raise RuntimeError(f"3d-tiles-tools could not read the tileset back: {log.strip()[-500:]}")
        return json.loads(target.read_text(encoding="utf-8")), log


def tileset_schema_errors(tileset: dict) -> list[str]:
    """Messages of every violation of the 3D Tiles 1.1 JSON schemas (empty when valid)."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resources = []
    for path in sorted(SCHEMAS.rglob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(contents, default_specification=DRAFT202012)
        name = contents.get("$id", path.name)
        # two files refer to ../common/rootProperty.schema.json: references from there resolve under common/
        resources += [(name, resource), (f"common/{name}", resource)]
    registry = Registry().with_resources(resources)
    root = json.loads((SCHEMAS / "tileset.schema.json").read_text(encoding="utf-8"))
    validator = Draft202012Validator(root, registry=registry)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in
            validator.iter_errors(tileset)]


def worst_vertex_error(store: Store, out_dir: Path) -> tuple[float, int]:
    """The largest distance (m, per axis) between a vertex read back from the GLBs (node and tile transforms
    applied, ECEF carried back to the city CRS) and the same vertex in the store, and the features compared.
    GIS features (computed, not stored) are skipped."""
    tileset = json.loads((out_dir / "tileset.json").read_text(encoding="utf-8"))
    frame = CityFrame(store.crs)
    worst, compared = 0.0, 0
    for leaf in leaves(tileset["root"]):
        gltf, binary = read_glb((out_dir / leaf["content"]["uri"]).read_bytes())
        primitive = gltf["meshes"][0]["primitives"][0]
        positions = accessor_array(gltf, binary, primitive["attributes"]["POSITION"])
        ids = accessor_array(gltf, binary, primitive["attributes"]["_FEATURE_ID_0"])[:, 0].astype(np.int64)
        node = np.array(gltf["nodes"][0].get("matrix", np.eye(4).T.reshape(-1))).reshape(4, 4).T
        local = positions.astype(np.float64) @ node[:3, :3].T + node[:3, 3]
        tile = np.array(leaf["transform"]).reshape(4, 4).T
        city = frame.city(to_ecef(local, tile))
        keys = read_strings(gltf, binary, "element_key")
        kinds = read_strings(gltf, binary, "kind")
        stored = _stored(store, {k for k, kind in zip(keys, kinds, strict=True) if kind == "ifc"})
        for i, key in enumerate(keys):
            if key not in stored:
                continue
            expected = stored[key]
            got = city[ids == i]
            worst = max(worst, float(np.abs(got - expected).max()))
            compared += 1
    return worst, compared


def _stored(store: Store, keys: set[str]) -> dict[str, np.ndarray]:
    """Store triangles (3 vertices each, float64) of the elements named by model_id/version/global_id keys."""
    out: dict[str, np.ndarray] = {}
    wanted: dict[tuple[str, int], set[str]] = {}
    for key in keys:
        model, version, gid = key.split("/", 2)
        wanted.setdefault((model, int(version)), set()).add(gid)
    for (model, version), gids in wanted.items():
        table = store.read("meshes", columns=["global_id", "vertices", "faces"],
                           filters=[("model_id", "=", model), ("version", "=", version)])
        for row in table.to_pylist():
            if row["global_id"] in gids:
                v = np.asarray(row["vertices"], dtype=np.float64).reshape(-1, 3)
                out[f"{model}/{version}/{row['global_id']}"] = v[np.asarray(row["faces"], dtype=np.int64)]
    return out
