"""Binary glTF 2.0 (GLB) tile content with EXT_mesh_features feature ids and an EXT_structural_metadata
property table, written with numpy.

Why not a library: trimesh (already a dependency) writes GLB but has no way to add the property table's
buffer views or the primitive's EXT_mesh_features object; pygltflib would add a dependency that only
wraps the same JSON in dataclasses, while every buffer view would still be packed by hand. The format
is small: a JSON chunk and a binary chunk, both 4-byte padded; views start on 8-byte boundaries as
EXT_structural_metadata requires.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

import numpy as np

GLB_MAGIC = 0x46546C67
JSON_CHUNK = 0x4E4F534A
BIN_CHUNK = 0x004E4942
FLOAT, UINT32, INT32 = 5126, 5125, 5124
ARRAY_BUFFER = 34962


@dataclass(frozen=True)
class Prop:
    """One property of the feature class: STRING or INT32 scalar."""

    name: str
    kind: str  # "STRING" or "INT32"
    description: str


@dataclass
class _Buffer:
    """The binary chunk being assembled, and the glTF views and accessors pointing into it."""

    data: bytearray = field(default_factory=bytearray)
    views: list[dict] = field(default_factory=list)
    accessors: list[dict] = field(default_factory=list)

    def view(self, raw: bytes, target: int | None = None) -> int:
        self.data += b"\0" * (-len(self.data) % 8)
        view = {"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw)}
        if target is not None:
            view["target"] = target
        self.data += raw
        self.views.append(view)
        return len(self.views) - 1

    def accessor(self, values: np.ndarray, kind: str, bounds: bool = False) -> int:
        view = self.view(values.tobytes(), ARRAY_BUFFER)
        acc = {"bufferView": view, "componentType": FLOAT, "count": int(values.shape[0]), "type": kind}
        if bounds:
            acc["min"] = [float(v) for v in values.min(axis=0)]
            acc["max"] = [float(v) for v in values.max(axis=0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1


def flat_normals(positions: np.ndarray) -> np.ndarray:
    """Unit normals, one per triangle, repeated for its three (unshared) vertices; degenerate ones point up."""
    tri = positions.reshape(-1, 3, 3).astype(np.float64)
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(normal, axis=1)
    bad = length < 1e-12
    normal[bad] = (0.0, 1.0, 0.0)
    length[bad] = 1.0
    normal = (normal / length[:, None]).astype(np.float32)
    return np.repeat(normal, 3, axis=0)


def property_table(buf: _Buffer, props: list[Prop], rows: list[dict]) -> dict:
    """The property table of ``rows`` (one dict per feature id, in order) as EXT_structural_metadata wants."""
    out = {}
    for prop in props:
        if prop.kind == "INT32":
            values = np.array([int(r.get(prop.name) or 0) for r in rows], dtype="<i4")
            out[prop.name] = {"values": buf.view(values.tobytes())}
            continue
        encoded = [str(r.get(prop.name) or "").encode("utf-8") for r in rows]
        offsets = np.zeros(len(encoded) + 1, dtype="<u4")
        offsets[1:] = np.cumsum([len(e) for e in encoded])
        # a bufferView may not be empty: a column of empty strings gets one unused padding byte
        out[prop.name] = {"values": buf.view(b"".join(encoded) or b"\0"), "stringOffsets": buf.view(offsets.tobytes()),
                          "stringOffsetType": "UINT32"}
    return {"class": "element", "count": len(rows), "properties": out}


def metadata_schema(props: list[Prop]) -> dict:
    classes = {}
    for p in props:
        spec = {"type": "STRING"} if p.kind == "STRING" else {"type": "SCALAR", "componentType": "INT32"}
        classes[p.name] = {"name": p.name, "description": p.description, **spec}
    return {"id": "cim", "name": "cim city model", "classes": {"element": {
        "name": "City element", "description": "An IFC element or a GIS feature of the city model",
        "properties": classes}}}


def write_glb(positions: np.ndarray, feature_ids: np.ndarray, props: list[Prop], rows: list[dict],
              generator: str) -> bytes:
    """A GLB of one mesh: ``positions`` (3 vertices per triangle, y-up, float32) and the feature id of each
    vertex; feature ``i`` has the properties ``rows[i]``."""
    positions = np.ascontiguousarray(positions, dtype="<f4")
    buf = _Buffer()
    attributes = {"POSITION": buf.accessor(positions, "VEC3", bounds=True),
                  "NORMAL": buf.accessor(flat_normals(positions), "VEC3"),
                  "_FEATURE_ID_0": buf.accessor(np.ascontiguousarray(feature_ids, dtype="<f4"), "SCALAR")}
    table = property_table(buf, props, rows)
    buf.data += b"\0" * (-len(buf.data) % 4)
    gltf = {
        "asset": {"version": "2.0", "generator": generator},
        "extensionsUsed": ["EXT_mesh_features", "EXT_structural_metadata"],
        "extensions": {"EXT_structural_metadata": {"schema": metadata_schema(props), "propertyTables": [table]}},
        "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
        "materials": [{"name": "city", "doubleSided": True, "pbrMetallicRoughness": {
            "baseColorFactor": [0.82, 0.82, 0.8, 1.0], "metallicFactor": 0.0, "roughnessFactor": 0.9}}],
        "meshes": [{"primitives": [{"attributes": attributes, "material": 0, "mode": 4, "extensions": {
            "EXT_mesh_features": {"featureIds": [{"featureCount": len(rows), "attribute": 0,
                                                  "propertyTable": 0}]}}}]}],
        "buffers": [{"byteLength": len(buf.data)}], "bufferViews": buf.views, "accessors": buf.accessors,
    }
    text = json.dumps(gltf, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + 8 + len(buf.data)
    return b"".join([struct.pack("<III", GLB_MAGIC, 2, total), struct.pack("<II", len(text), JSON_CHUNK), text,
                     struct.pack("<II", len(buf.data), BIN_CHUNK), bytes(buf.data)])


def read_glb(data: bytes) -> tuple[dict, bytes]:
    """The JSON and binary chunk of a GLB (for tests and tools that read a tile back)."""
    magic, version, total = struct.unpack_from("<III", data, 0)
    if magic != GLB_MAGIC or version != 2 or total != len(data):
        raise ValueError("not a GLB 2.0 file")
    json_len, _ = struct.unpack_from("<II", data, 12)
    gltf = json.loads(data[20:20 + json_len])
    bin_len, _ = struct.unpack_from("<II", data, 20 + json_len)
    start = 28 + json_len
    return gltf, data[start:start + bin_len]


def accessor_array(gltf: dict, binary: bytes, index: int) -> np.ndarray:
    """The values of a float accessor as an (count, components) array."""
    acc = gltf["accessors"][index]
    view = gltf["bufferViews"][acc["bufferView"]]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    return np.frombuffer(binary, dtype="<f4", count=acc["count"] * width, offset=start).reshape(-1, width)


def read_strings(gltf: dict, binary: bytes, name: str) -> list[str]:
    """A STRING property of the first property table, one value per feature id."""
    prop = gltf["extensions"]["EXT_structural_metadata"]["propertyTables"][0]["properties"][name]
    views = gltf["bufferViews"]
    values, offsets = views[prop["values"]], views[prop["stringOffsets"]]
    offs = np.frombuffer(binary, dtype="<u4", count=offsets["byteLength"] // 4, offset=offsets["byteOffset"])
    raw = binary[values["byteOffset"]:values["byteOffset"] + values["byteLength"]]
    return [raw[a:b].decode("utf-8") for a, b in zip(offs[:-1], offs[1:], strict=True)]
