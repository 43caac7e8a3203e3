"""`export_tileset`: the city as an OGC 3D Tiles 1.1 tileset, written atomically and incrementally.

Layout of the output folder::

    tileset.json            the tree: regions, geometric errors, each leaf's transform and content
    tiles/<cell>-<hash>.glb  one GLB per leaf (hash = first 16 hex digits of its content hash)
    cim-tiles.json          manifest: per leaf its content hash, file and bounds, for the next export

A first export is written into a hidden sibling folder and renamed into place. A later export into the
same folder rebuilds only leaves whose content hash changed: a changed leaf gets a new file name, so the
new GLBs are written beside the old ones, then tileset.json and the manifest are replaced atomically, and
only then are files no longer referenced removed. A reader never sees a tileset naming a missing or
half-written tile.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cim.errors import CimError, TransientIOError
from cim.store import Store
from cim.tiles.features import PROPS, Feature, digest, ifc_features, select_models
from cim.tiles.frame import CityFrame, column_major, to_local
from cim.tiles.glb import write_glb
from cim.tiles.tiling import MAX_FEATURES, MAX_TRIANGLES, Node, build_tree, geometric_error

FORMAT = 1  # bump when the GLB or tileset layout changes: every tile is rewritten
MANIFEST = "cim-tiles.json"


@dataclass
class TilesetSummary:
    """What an export did: counts, bytes on disk (tileset.json and tiles) and the time it took."""

    out_dir: Path
    n_tiles: int
    n_features: int
    n_written: int
    n_reused: int
    bytes: int
    seconds: float
    notes: list[str] = field(default_factory=list)


def export_tileset(store: Path | str | Store, out_dir: Path | str, *, models: list[str] | None = None,
                   version: int | None = None, phase: str | None = None, ground_z: float | None = None,
                   max_features: int = MAX_FEATURES, max_triangles: int = MAX_TRIANGLES) -> TilesetSummary:
    """Write the 3D Tiles 1.1 tileset of the chosen models (default: every current model with meshes and the
    LoD1 context) into ``out_dir``. ``ground_z`` is the elevation context buildings stand on (default: the
    median base of the store's IFC buildings); a tile holds at most ``max_features`` features and about
    ``max_triangles`` triangles (one feature is never split).

    Refused input (no such model, nothing to draw, a folder holding other files) raises a CimError before
    anything is written; a failure while writing leaves the previous tileset as it was."""
    from cim.query import open_store_for_query
    from cim.tiles.context import context_features, ground_elevation
    from cim.tiles.pipes import pipeline_features

    start = time.perf_counter()
    st = store if isinstance(store, Store) else open_store_for_query(store)
    out = Path(out_dir)
    previous = _previous_manifest(out)
    selection = select_models(st, models, version, phase)
    ifc = {m: r for m, r in selection.models.items() if r["kind"] == "ifc"}
    features: list[Feature] = []
    for row in ifc.values():
        features += ifc_features(st, row)
    z = ground_elevation(st) if ground_z is None else ground_z
    for name, row in selection.models.items():
        if name == "buildings_existing":
            features += context_features(st, row, z, set(ifc), selection.notes)
        elif name == "pipelines":
            features += pipeline_features(st, row, z, selection.notes)
    if not features:
        raise CimError(st.root, "nothing to export: the chosen models have no geometry",
                       "choose models with meshes (`cim query \"SELECT model_id, n_meshes FROM current_models\"`)",
                       stage="export")
    tree = build_tree(features, max_features, max_triangles)
    writer = _Writer(out, previous, CityFrame(st.crs))
    try:
        root = writer.tile(tree)
        root["refine"] = "ADD"  # required on the root, also when the root is the only (content) tile
        # the error of showing nothing: twice the city's diagonal, so clients load it from any city-wide view
        tileset = {"asset": {"version": "1.1", "generator": _generator(),
                             "extras": {"crs": st.crs, "height": "store z taken as height above the WGS84 "
                                        "ellipsoid (no geoid model applied)"}},
                   "geometricError": 2 * geometric_error(*tree.bounds()), "root": root}
        size = writer.finish(tileset, {"format": FORMAT, "crs": st.crs, "tiles": writer.manifest})
    except BaseException:
        writer.abandon()
        raise
    return TilesetSummary(out, len(writer.manifest), len(features), writer.n_written, writer.n_reused, size,
                          time.perf_counter() - start, selection.notes)


def _generator() -> str:
    from cim import __version__

    return f"cim {__version__}"


def _previous_manifest(out: Path) -> dict | None:
    """The manifest of an earlier export into ``out``; an out folder holding anything else is refused."""
    if not out.exists():
        return None
    if not out.is_dir():
        raise CimError(out, "the 3D Tiles output is a file, not a folder", "give a folder path", stage="export")
    manifest = out / MANIFEST
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"tiles": {}}
        return data if data.get("format") == FORMAT and isinstance(data.get("tiles"), dict) else {"tiles": {}}
    if any(out.iterdir()):
        raise CimError(out, "the folder is not empty and holds no earlier cim tileset (no cim-tiles.json)",
                       "give an empty or new folder, so nothing of yours is overwritten", stage="export")
    return None


class _Writer:
    """Builds tileset.json tile objects; writes changed leaves, keeps unchanged ones."""

    def __init__(self, out: Path, previous: dict | None, frame: CityFrame):
        self.out, self.previous, self.frame = out, previous, frame
        self.staging = out if previous is not None else Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-",
                                                                                dir=_parent(out)))
        (self.staging / "tiles").mkdir(parents=True, exist_ok=True)
        self.manifest: dict[str, dict] = {}
        self.n_written = self.n_reused = 0
        self.new_files: list[Path] = []
        self.done = False

    def tile(self, node: Node) -> dict:
        lo, hi = node.bounds()
        tile = {"boundingVolume": {"region": self.frame.region(lo, hi)}}
        if node.children:
            tile.update(geometricError=geometric_error(lo, hi), refine="ADD",
                        children=[self.tile(child) for child in node.children])
            return tile
        tile.update(self._leaf(node, lo, hi))
        return tile

    def _leaf(self, node: Node, lo: np.ndarray, hi: np.ndarray) -> dict:
        features = sorted(node.features, key=lambda f: f.props["element_key"])
        content_hash = digest(FORMAT, self.frame.crs, [f.digest for f in features])
        uri = f"tiles/{node.name}-{content_hash[:16]}.glb"
        old = (self.previous or {}).get("tiles", {}).get(node.name)
        if old and old.get("hash") == content_hash and (self.out / uri).is_file():
            matrix = old["transform"]
            self.n_reused += 1
            size = (self.out / uri).stat().st_size
        else:
            matrix = self.frame.enu_frame((lo + hi) / 2.0)
            data = self._content(features, matrix)
            if not (self.staging / uri).exists():
                self.new_files.append(self.staging / uri)
            _write_file(self.staging / uri, data)
            matrix, size = column_major(matrix), len(data)
            self.n_written += 1
        self.manifest[node.name] = {"hash": content_hash, "uri": uri, "transform": matrix,
                                    "features": len(features), "bytes": size}
        return {"geometricError": 0.0, "transform": matrix, "content": {"uri": uri}}

    def _content(self, features: list[Feature], matrix: np.ndarray) -> bytes:
        positions, ids = [], []
        for i, f in enumerate(features):
            local = to_local(self.frame.ecef(f.vertices), matrix)
            positions.append(local[f.faces.reshape(-1)])
            ids.append(np.full(f.faces.size, i, dtype=np.float32))
        return write_glb(np.vstack(positions).astype(np.float32), np.concatenate(ids), PROPS,
                         [f.props for f in features], _generator())

    def finish(self, tileset: dict, manifest: dict) -> int:
        """Put tileset.json and the manifest in place (atomically), drop unreferenced tiles; total bytes."""
        try:
            # the manifest first: if tileset.json is not replaced, the next export still finds every tile
            _write_file(self.staging / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
            _write_file(self.staging / "tileset.json", json.dumps(tileset, indent=1).encode("utf-8"))
            if self.staging != self.out:
                if self.out.exists():
                    self.out.rmdir()  # empty: _previous_manifest refused anything else
                os.replace(self.staging, self.out)
            self.done = True
        except OSError as exc:
            raise TransientIOError(self.out, f"could not write the tileset: {exc.strerror or exc}",
                                   "check that the folder is writable and has space, then retry") from exc
        keep = {entry["uri"] for entry in manifest["tiles"].values()}
        for path in (self.out / "tiles").glob("*"):
            if f"tiles/{path.name}" not in keep:
                path.unlink(missing_ok=True)
        return sum(p.stat().st_size for p in self.out.rglob("*") if p.is_file() and p.name != MANIFEST)


    def abandon(self) -> None:
        """After a failure: drop what this export wrote; the previous tileset (if any) stays as it was."""
        if self.done:
            return
        if self.staging != self.out:
            shutil.rmtree(self.staging, ignore_errors=True)
            return
        for path in self.new_files:
            path.unlink(missing_ok=True)
        for name in ("tileset.json", MANIFEST):
            (self.out / f".{name}.tmp").unlink(missing_ok=True)


def _parent(out: Path) -> Path:
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    return parent


def _write_file(path: Path, data: bytes) -> None:
    """Write ``data`` beside ``path`` and rename it into place, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
