"""The store's two metadata files, ``_cim/store.json`` and ``_cim/journal.json``, read and validated.

The journal tells the next writer which tables to roll back after a crash, so it decides what gets
restored or deleted: a journal that names anything but a table folder of this store (a path with
``..``, an absolute path, a symlink out of the store) is refused with a one-line error, and nothing
is touched. A damaged file of either kind is reported naming the file and the fix.
"""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

from cim.errors import StoreError
from cim.store.schema import documented_tables

META_DIR = "_cim"
LAYERS_DIR = "layers"
FORMAT = 1
LAYER_DIR = re.compile(r"^layers/[a-z][a-z0-9_]{0,62}/v[1-9][0-9]{0,9}$")
KINDS = ("model", "derived")
# Test hook: SIGKILL the process at a named point: a table name (right after writing it), "journal"
# (journal written, nothing else yet), "layer" (layer folder written), "commit" (journal removed),
# "derived-journal" (derived journal updated, table not yet written), "recover:<table>" (that table
# restored, journal still there), "init:<table>" (a new store's table created, store.json not yet).
FAULT_ENV = "CIM_FAULT_AFTER_TABLE"


def fault_point(point: str) -> None:
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def layer_dir(name: str, version: int) -> str:
    """The store-relative folder of one layer version (the name the journal records)."""
    return f"{LAYERS_DIR}/{name}/v{version}"


def layer_location(root: Path, name: str, version: int) -> Path | None:
    """The folder holding one committed layer version, or None when it is not a Delta table (yet)."""
    from cim.store.objects import is_table
    from cim.store.schema import core_tables

    path = root / layer_dir(name, version)
    if is_table(path):
        return path
    legacy = root / name  # stores written before layers had their own folder
    if name not in core_tables() and is_table(legacy):
        return legacy
    return None


def write_json(path: Path, data: dict) -> None:
    """Write then rename: a reader or a crash sees the old file or the new one, never half of one.

    On an object store one PUT does the same: the object is replaced whole or not at all.
    """
    from cim.store.objects import ObjectPath

    if isinstance(path, ObjectPath):
        path.write_bytes(json.dumps(data).encode())
        return
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def remove_tree(path: Path) -> None:
    """Remove a table folder (a table or layer version of an uncommitted write): a folder, or every object under
    an object-store prefix."""
    import shutil

    from cim.store.objects import ObjectPath

    if isinstance(path, ObjectPath):
        path.remove_tree()
    else:
        shutil.rmtree(path)


def _load(path: Path, fix: str) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(path, f"damaged store file: not readable JSON ({type(exc).__name__})", fix) from exc
    if not isinstance(data, dict):
        raise StoreError(path, "damaged store file: not a JSON object", fix)
    return data


def read_meta(path: Path) -> dict:
    """store.json: the city CRS and the format of the store."""
    fix = ('restore it from a backup, or rewrite it as {"crs": "EPSG:NNNN", "format": 1} with the city CRS '
           "the store was built with (the crs in the metadata of any geometry column)")
    meta = _load(path, fix)
    crs = meta.get("crs")
    if not isinstance(crs, str) or not crs.strip():
        raise StoreError(path, "damaged store file: no city CRS (\"crs\" must be a string such as EPSG:4549)", fix)
    fmt = meta.get("format", FORMAT)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        raise StoreError(path, f"damaged store file: \"format\" must be a positive integer, not {fmt!r}", fix)
    if fmt > FORMAT:
        raise StoreError(path, f"store format {fmt} is newer than this cim understands ({FORMAT})",
                         "upgrade cim to read this store")
    return meta


def journal_fix(path: Path) -> str:
    return (f"nothing was rolled back; if no cim writer is running, move it away (mv {path} {path}.rejected) "
            "and run again, then check `cim query \"SELECT * FROM current_models\"`")


def read_journal(root: Path, path: Path) -> dict:
    """The journal, every field checked; the table names resolved to folders inside ``root``."""
    fix = journal_fix(path)
    journal = _load(path, fix)
    kind = journal.get("kind", "model")
    if kind not in KINDS:
        raise StoreError(path, f"damaged roll-back journal: kind {kind!r} is not one of {', '.join(KINDS)}", fix)
    model_id, version, tables = journal.get("model_id"), journal.get("version"), journal.get("tables")
    if kind == "model" or model_id is not None:
        if not isinstance(model_id, str) or not model_id:
            raise StoreError(path, "damaged roll-back journal: \"model_id\" must be a non-empty string", fix)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise StoreError(path, "damaged roll-back journal: \"version\" must be a positive integer", fix)
    if not isinstance(tables, dict) or not tables:
        raise StoreError(path, "damaged roll-back journal: \"tables\" must map table names to versions", fix)
    for name, before in tables.items():
        if not isinstance(before, int) or isinstance(before, bool) or before < -1:
            raise StoreError(path, f"damaged roll-back journal: version {before!r} of {name!r} is not an "
                                   "integer >= -1", fix)
        table_dir(root, name, journal=path)
    return {**journal, "kind": kind}


def table_dir(root: Path, name: str, *, journal: Path | None = None) -> Path:
    """The folder of a store table named as the journal names it; refuses anything outside the store."""
    fix = journal_fix(journal) if journal else "use a table name from schemas/tables.toml"
    where = journal or root
    if not isinstance(name, str) or not (name in documented_tables()["tables"] or LAYER_DIR.match(name)):
        raise StoreError(where, f"refused: the roll-back journal names {name!r}, which is not a table of this "
                                "store", fix)
    path = root / name
    base = root.resolve()
    probe = root
    for part in [*Path(name).parts, "_delta_log"]:
        probe = probe / part
        if probe.is_symlink():
            raise StoreError(where, f"refused: {probe} is a symbolic link; the store only rolls back its own "
                                    "folders", fix)
    if not path.resolve().is_relative_to(base):
        raise StoreError(where, f"refused: {name!r} resolves outside the store {base}", fix)
    return path
