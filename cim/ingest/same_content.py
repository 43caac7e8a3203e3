"""A model saved again without a change: the new version is the previous one's rows, without parsing the file.

Authoring tools write the save time into the header (FILE_NAME's time_stamp), so an unchanged model saved
again has a new sha256 and is ingested as a new version. ``content_sha256`` hashes the file with that one
field blanked; when it equals the previous version's, and the settings, the code version and the source
path are the same, everything the ingest would compute is what the previous version holds. The new version
then copies its rows (elements, meshes, buildings, relations) and its record with the new file's sha256,
instead of opening, parsing and meshing the file. Anything else falls back to a normal (incremental) ingest.
"""

from __future__ import annotations

import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cim import __version__
from cim.ingest.reuse import ReuseSource
from cim.store import ModelCommit

_TIME_STAMP = re.compile(rb"(FILE_NAME\s*\(\s*'(?:[^']|'')*'\s*,\s*)'(?:[^']|'')*'")
_HEADER_MAX = 1 << 16  # the header is a few hundred bytes; a longer one is hashed as it is
COPIED_TABLES = ("elements", "meshes", "buildings", "relations", "step_lines")
SET_AT_COMMIT = ("model_id", "version", "run_id", "ingested_at", "code_version")


def file_hashes(path: str | Path) -> tuple[str, str]:
    """(sha256 of the file, sha256 of the file with its header's FILE_NAME time stamp blanked), one read."""
    whole, content = hashlib.sha256(), hashlib.sha256()
    with Path(path).open("rb") as fh:
        first = fh.read(_HEADER_MAX)
        whole.update(first)
        end = first.find(b"ENDSEC;")
        if end > 0:
            first = _TIME_STAMP.sub(rb"\1''", first[:end], count=1) + first[end:]
        content.update(first)
        for block in iter(lambda: fh.read(1 << 20), b""):
            whole.update(block)
            content.update(block)
    return whole.hexdigest(), content.hexdigest()


def copy_previous(source: ReuseSource, *, key: str, sha256: str, content_sha256: str, settings_hash: str,
                  size_bytes: int) -> ModelCommit | None:
    """The previous version as the new one when its content is the same, else None (ingest normally).

    Only a previous version without ingest_errors rows is copied: their rows name the file's sha256 and
    are made again by a normal ingest.
    """
    from cim.store import Store

    if source.record is None:  # the planner gives the previous version's models row; without it, no copy
        return None
    record = dict(source.record)
    same = (record.get("content_sha256") == content_sha256 and record.get("settings_hash") == settings_hash
            and record.get("source_path") == key and record.get("code_version") == __version__
            and record.get("kind") == "ifc")
    if not same:
        return None
    store = Store(source.store_root, create=False)  # opened only for a copy
    # one thread per table, and one for the error rows: the reads run in Rust and Arrow, outside the GIL, so
    # they overlap (reading the tables before knowing there are no error rows costs nothing on this path)
    with ThreadPoolExecutor(len(COPIED_TABLES) + 1, thread_name_prefix="cim-copy") as pool:
        errors = pool.submit(has_error_rows, store, key, record["sha256"])
        read = [pool.submit(store.read_model, name, source.model_id, source.version) for name in COPIED_TABLES]
        if errors.result():
            return None
        tables = {name: done.result().drop_columns(["model_id", "version"])
                  for name, done in zip(COPIED_TABLES, read, strict=True)}
    record = next_record(record, sha256=sha256, size_bytes=size_bytes, n_meshes_reused=tables["meshes"].num_rows)
    return ModelCommit(model_id=source.model_id, record=record, tables=tables)


def next_record(previous: dict, **changes) -> dict:
    """The previous version's ``models`` row as the start of the next one's: what the commit sets left out."""
    record = {name: value for name, value in previous.items() if name not in SET_AT_COMMIT}
    record.update(changes)
    return record


def has_error_rows(store, key: str, sha256: str) -> bool:
    """Whether ``ingest_errors`` holds rows for the file at ``key`` with that sha256 (its refusal or warnings)."""
    errors = store.read("ingest_errors", columns=["sha256"], filters=[("source_path", "=", key)])
    return sha256 in set(errors["sha256"].to_pylist())
