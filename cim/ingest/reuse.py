"""Reuse the geometry of the previous version of a model for products whose geometry inputs did not change.

Tessellating is most of an ingest. A revision usually moves or reshapes a few elements, so each product's
``geometry_input_hash`` (``cim.ingest.geometry_key``, computed from the STEP graph) is looked up among the
previous committed version's element rows; a product found there with its mesh row takes that row's
bounds, footprint, geometry hash and mesh instead of going to the kernel. Anything not found (a new or
changed product, a row written before the column existed, a mesh row missing) is tessellated as usual,
so the result equals a from-scratch ingest of the same file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

GEOMETRY_COLUMNS = ("xmin", "ymin", "zmin", "xmax", "ymax", "zmax", "has_mesh", "geometry_hash", "footprint")
MESH_COLUMNS = ("global_id", "vertices", "faces", "n_vertices", "n_triangles", "is_closed", "geometry_hash")


@dataclass(frozen=True)
class ReuseSource:
    """Where the previous version lives (picklable: a flow's worker process loads it itself)."""

    store_root: str
    model_id: str
    version: int
    record: dict | None = field(default=None, compare=False, hash=False, repr=False)  # its ``models`` row

    def load(self) -> Previous:
        from cim.store import Store  # the store is only read here; prepare writes nothing

        store = Store(self.store_root, create=False)
        where = [("model_id", "=", self.model_id), ("version", "=", self.version)]
        elements = store.read("elements", columns=["global_id", "geometry_input_hash", *GEOMETRY_COLUMNS],
                              filters=where)
        meshes = store.read("meshes", columns=list(MESH_COLUMNS), filters=where)
        return Previous.from_tables(self.version, elements, meshes)


@dataclass
class Previous:
    """The previous version's geometry rows, indexed by geometry input hash."""

    version: int
    elements: pa.Table  # GEOMETRY_COLUMNS of the reusable rows
    meshes: pa.Table  # MESH_COLUMNS, row i belongs to elements row i
    by_hash: dict[str, int]

    @classmethod
    def from_tables(cls, version: int, elements: pa.Table, meshes: pa.Table) -> Previous:
        """Only rows with a hash, a mesh, and exactly one mesh row are reusable."""
        elements = elements.filter(pc.and_(pc.is_valid(elements["geometry_input_hash"]),
                                           pc.fill_null(elements["has_mesh"], False)))
        mesh_at: dict[str, int] = {}
        for i, gid in enumerate(meshes["global_id"].to_pylist()):
            mesh_at[gid] = -1 if gid in mesh_at else i  # a key twice: ambiguous, not reused
        rows, mesh_rows, by_hash = [], [], {}
        for i, (gid, key) in enumerate(zip(elements["global_id"].to_pylist(),
                                           elements["geometry_input_hash"].to_pylist(), strict=True)):
            j = mesh_at.get(gid, -1)
            if j < 0 or key in by_hash:
                continue
            by_hash[key] = len(rows)
            rows.append(i)
            mesh_rows.append(j)
        return cls(version, elements.take(pa.array(rows, pa.int64())).select(list(GEOMETRY_COLUMNS)),
                   meshes.take(pa.array(mesh_rows, pa.int64())).select(list(MESH_COLUMNS)), by_hash)

    def matches(self, keys: dict[int, str]) -> dict[int, int]:
        """step id -> row of the previous version to reuse, for every product whose key is found."""
        return {step: self.by_hash[key] for step, key in keys.items() if key in self.by_hash}


def merge(elements: pa.Table, meshes: pa.Table, previous: Previous, reused: dict[int, int],
          keys: dict[int, str]) -> tuple[pa.Table, pa.Table]:
    """Fill the geometry columns of reused products from ``previous`` and add their mesh rows.

    ``elements`` holds every product's row (reused ones with empty geometry columns); ``meshes`` the rows of
    the tessellated products. Every element row also gets its ``geometry_input_hash``.
    """
    steps = elements["step_id"].to_pylist()
    elements = _set(elements, "geometry_input_hash", pa.array([keys.get(s) for s in steps], pa.string()))
    positions = [i for i, s in enumerate(steps) if s in reused]
    if not positions:
        return elements, meshes
    source = pa.array([reused[steps[i]] for i in positions], pa.int64())
    old = previous.elements.take(source)
    for name in GEOMETRY_COLUMNS:
        values = elements[name].to_pylist()
        for pos, value in zip(positions, old[name].to_pylist(), strict=True):
            values[pos] = value
        elements = _set(elements, name, pa.array(values, old.schema.field(name).type))
    gids = elements["global_id"].take(pa.array(positions, pa.int64()))
    old_meshes = previous.meshes.take(source)
    old_meshes = _set(old_meshes, "global_id", gids.combine_chunks() if hasattr(gids, "combine_chunks") else gids)
    meshes = pa.concat_tables([meshes, old_meshes.cast(meshes.schema) if meshes.num_rows else old_meshes],
                              promote_options="permissive")
    return elements, meshes


def _set(table: pa.Table, name: str, column: pa.Array | pa.ChunkedArray) -> pa.Table:
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, column)
    return table.append_column(name, column)
