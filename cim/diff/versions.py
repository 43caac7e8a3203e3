"""Which two versions a diff compares, and the element rows of each, read once from the store."""

from __future__ import annotations

import pyarrow as pa
from deltalake import DeltaTable

from cim.diff.model import DiffError
from cim.store import Store

# What the diff compares per element; a column an older store lacks is read as unknown (null) and noted.
ELEMENT_COLUMNS = (
    "global_id", "ifc_class", "predefined_type", "type_name", "name", "description", "object_type", "tag",
    "storey", "building", "systems", "materials", "classification", "psets", "qsets", "has_mesh",
    "geometry_hash", "xmin", "ymin", "zmin", "xmax", "ymax", "zmax", "footprint",
)


def model_versions(store: Store, model_id: str) -> list[int]:
    """The committed versions of an IFC model, oldest first; one line with the fix when there is none."""
    if not store.has_table("models"):
        raise DiffError(store.root, "no models table in this store", "run `cim ingest FILE.ifc` first")
    models = store.read("models", columns=["model_id", "version", "kind"], filters=[("model_id", "=", model_id)])
    if models.num_rows == 0:
        raise DiffError(store.root, f"no model {model_id!r} in the store",
                        "list them with `cim query \"SELECT model_id, version FROM current_models\"`, "
                        "or ingest it with `cim ingest FILE.ifc`")
    if "ifc" not in models["kind"].to_pylist():
        raise DiffError(store.root, f"{model_id!r} is a GIS layer, not an IFC model", "diff an IFC model_id")
    return sorted(models["version"].to_pylist())


def resolve_versions(store: Store, model_id: str, from_version: int | None,
                     to_version: int | None) -> tuple[int, int]:
    """(from, to): by default the previous and the current version."""
    versions = model_versions(store, model_id)
    listed = ", ".join(str(v) for v in versions)
    if len(versions) < 2 and (from_version is None or to_version is None):
        raise DiffError(store.root, f"model {model_id!r} has only version {versions[0]}: nothing to diff",
                        "ingest a changed file of it first (`cim ingest FILE.ifc`), then run `cim diff` again")
    for label, value in (("--to", to_version), ("--from", from_version)):
        if value is not None and value not in versions:
            raise DiffError(store.root, f"model {model_id!r} has no version {value} ({label}); its versions: "
                                        f"{listed}", f"pass one of {listed}")
    to_v = versions[-1] if to_version is None else to_version
    if from_version is None:
        earlier = [v for v in versions if v < to_v]
        if not earlier:
            raise DiffError(store.root, f"model {model_id!r} has no version before {to_v}: nothing to diff",
                            f"pass --from with one of {listed}")
        from_version = earlier[-1]
    if from_version == to_v:
        raise DiffError(store.root, f"--from and --to are both version {to_v}: nothing to diff",
                        f"pass two different versions of {listed}")
    return from_version, to_v


def element_rows(store: Store, model_id: str, version: int, notes: list[str]) -> pa.Table:
    """The compared columns of one version's elements; columns an older store lacks come back null."""
    present = {f.name for f in DeltaTable(str(store.table_path("elements"))).schema().fields}
    wanted = [c for c in ELEMENT_COLUMNS if c in present]
    table = store.read("elements", columns=wanted, filters=[("model_id", "=", model_id), ("version", "=", version)])
    for name in ELEMENT_COLUMNS:
        if name not in present:
            table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
            note = f"the store's elements table has no {name} column (written by an older cim): treated as unknown"
            if note not in notes:
                notes.append(note)
    return table.select(list(ELEMENT_COLUMNS))
