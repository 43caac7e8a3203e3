"""Ingest one IFC file: open, georeference, mesh and describe every product, build LoD1 buildings."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import ifcopenshell.util.unit
import numpy as np
import pyarrow as pa

from cim import arrow_memory  # noqa: F401 - Arrow's pool, in a spawned worker too
from cim.buildings import buildings_table
from cim.config import ModelSettings
from cim.errors import InputError
from cim.georef import Georef, resolve_georef
from cim.ifc.elements import products
from cim.ifc.identity import identity_warnings
from cim.ifc.placement import has_body, world_matrices
from cim.ifc.reader import OpenedIfc, open_ifc
from cim.ifc.relations import RelIndex, build_index, relation_rows
from cim.ingest.file_text import FileText
from cim.ingest.geometry_key import GraphDigests, geometry_input_hashes, model_salt
from cim.ingest.ifc_chunks import Chunk, Refusal, prime, process_chunk_in_worker, release
from cim.ingest.ifc_health import (
    ABSURD_M,
    check_damage,
    damage_rows,
    finish,
    issue,
    orphan_lines,
    reference_issues,
)
from cim.ingest.line_index import LineIndex
from cim.ingest.reuse import Previous, ReuseSource, merge
from cim.ingest.same_content import file_hashes
from cim.store import ModelCommit
from cim.store.delta import now_utc
from cim.store.schema import table_schema
from cim.workers import process_pool

log = logging.getLogger(__name__)
Progress = Callable[[int], None]
T = TypeVar("T")
CHUNKS_PER_WORKER = 4


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def prepare_ifc(path: str | Path, city_crs: str, settings: ModelSettings, *, workers: int = 1,
                progress: Progress | None = None, sha256: str | None = None, content_sha256: str | None = None,
                reuse: ReuseSource | Previous | None = None) -> ModelCommit:
    """Everything one model version writes, ready for ``Store.commit``. Raises CimError on bad input.

    With ``reuse`` (the previous version of the model), products whose geometry inputs did not change take
    their geometry from it instead of being tessellated again (``cim.ingest.reuse``).
    """
    path = Path(path)
    if sha256 is None or content_sha256 is None:
        sha256, content_sha256 = file_hashes(path)
    try:
        with FileText(path) as text:  # the reference graph and digests, read by a helper meanwhile
            commit = _prepare(path, city_crs, settings, workers, progress, sha256, reuse, text)
    except RecursionError:  # cim walks placements iteratively: only a library following the file's references
        raise InputError(path, "references nested too deeply or in a cycle (a library recursed without end)",
                         "the file is damaged: re-export it from the authoring tool", stage="references") from None
    except AttributeError as exc:  # ifcopenshell's error for an attribute the referenced entity's type lacks
        if "entity instance of type" not in str(exc):
            raise
        raise InputError(path, f"an entity refers to one of the wrong type ({exc})",
                         "the file is damaged: re-export it from the authoring tool", stage="references") from None
    commit.record["content_sha256"] = content_sha256
    return commit


def _prepare(path: Path, city_crs: str, settings: ModelSettings, workers: int, progress: Progress | None,
             sha256: str, reuse: ReuseSource | Previous | None, text: FileText) -> ModelCommit:
    # Given as a ReuseSource (a Dask task reading its file in the worker), the previous version's rows are read
    # while the file is parsed and checked: the Delta read runs outside the GIL. A child process gets them
    # already read (``cim.ingest.run``: Delta's runtime does not survive a fork).
    background = ThreadPoolExecutor(1, thread_name_prefix="cim-previous")
    loading = background.submit(load_previous, path, reuse)
    background.shutdown(wait=False)
    opened = open_ifc(path)
    unit_scale = _unit_scale(opened)
    graph = text.graph()
    depth = graph.depth
    damage = check_damage(path, opened.findings, graph.n_defined, settings)
    project = opened.file.by_type("IfcProject")[0]
    if problem := depth.problem(project.id()):
        raise InputError(path, f"the IfcProject (#{project.id()}): its {problem}",
                         "the file is damaged: re-export it from the authoring tool", stage="references")
    prods = products(opened.file)
    if not prods:
        raise InputError(path, "the file has no products (no IfcProduct: no site, building or element), so there "
                         "is nothing to store", "export the model with its spatial structure and elements")
    issues = reference_issues(opened.file, prods, depth)
    n_body = _body_count(prods)
    finish(path, sha256, settings, prods, issues, n_body(issues))  # refuse before georeferencing the unplaceable
    georef = resolve_georef(opened.file, path, city_crs, settings.placement)
    salt = model_salt(georef=georef, unit_scale=unit_scale, schema=opened.schema,
                      settings_hash=settings.fingerprint(city_crs))
    step_ids = [p.id() for p in prods if p.id() not in issues]
    previous = loading.result()
    # With a previous version the geometry input hashes decide what is meshed; else they are only stored, and
    # are computed while the workers mesh, as is the line index the next revision is compared with.
    keys = _geometry_keys(path, opened, step_ids, salt, text) if previous is not None else None
    idx = build_index(opened.file)

    skipped: list[int] = []

    def model_wide() -> tuple:  # runs in this process while the workers mesh
        return (relation_rows(opened.file, idx, skipped), storey_heights(opened, georef, unit_scale, idx, set(issues)),
                identity_warnings(opened.file, idx.identity), orphan_lines(opened.file, idx),
                keys if keys is not None else _geometry_keys(path, opened, step_ids, salt, text),
                _line_index(path, salt, opened.schema, text))

    # The workers check each product's placement and mesh it; with a previous version, products whose geometry
    # input hash (``keys``, above) it holds are not meshed again (see ``_process``).
    elements, meshes, refusals, reused, (rels, storeys, identity, orphans, keys, line_index) = _process(
        opened, idx, step_ids, georef, unit_scale, workers, progress, model_wide, keys or {}, previous)
    elements = elements if elements is not None else _empty("elements", city_crs)
    meshes = meshes if meshes is not None else _empty("meshes", city_crs)
    elements, meshes = merge(elements, meshes, previous, reused, keys)
    if previous is not None:
        log.info("%s: geometry of %d products reused from version %d, %d tessellated", path, len(reused),
                 previous.version, len(step_ids) - len(reused))
    for step_id, stage, reason in refusals:
        issues[step_id] = issue(opened.file.by_id(step_id), stage, reason, refused=True)
    meshed = {s for s, m in zip(elements.column("step_id").to_pylist(), elements.column("has_mesh").to_pylist(),
                                strict=True) if m}
    why = "its Body representation produced no mesh" + (" (the file is damaged, see the model's message)"
                                                        if damage else "")
    for el in prods:
        if el.id() not in issues and el.id() not in meshed and has_body(el):
            issues[el.id()] = issue(el, "geometry", why, refused=False)
    lines, rows = finish(path, sha256, settings, prods, issues, n_body(issues))
    if damage:
        rows += damage_rows(path, sha256, opened.findings)
    refused = {idx.key(opened.file.by_id(i)) for i, found in issues.items() if found.refused}
    relations = _relations_table([r for r in rels if r[1] not in refused and r[2] not in refused])
    buildings = buildings_table(elements, storeys)
    if skipped:
        orphans.append(f"{len(skipped)} relationships left out: an end is unset or of the wrong type "
                       f"(e.g. #{skipped[0]})")
    warnings = [*opened.warnings, *georef.warnings, *damage, *lines, *orphans, *_identity_summary(identity)]
    record = {
        "kind": "ifc",
        "phase": settings.phase,
        "source_path": str(path),
        "source_layer": None,
        "sha256": sha256,
        "settings_hash": settings.fingerprint(city_crs),
        "size_bytes": path.stat().st_size,
        "schema": opened.schema,
        "authoring_application": opened.authoring_application,
        "crs": city_crs,
        "source_crs": georef.source_crs,
        "georef_level": georef.level,
        "georef_method": georef.method,
        "georef": _json(georef.as_record()),
        "status": "incomplete" if (issues or damage or orphans) else "warning" if warnings else "ok",
        "message": "\n".join(warnings) or None,
        "n_elements": elements.num_rows,
        "n_meshes": meshes.num_rows,
        "n_meshes_reused": len(reused) if previous is not None else None,
    }
    tables = {"elements": elements, "meshes": meshes, "buildings": buildings, "relations": relations,
              "step_lines": line_index}
    rows += [{"at": now_utc(), "source_path": str(path), "sha256": sha256, "stage": "identity",
              "error_type": "GlobalIdWarning", "feature_id": key, "message": f"{path}: {message}"}
             for key, message in identity]
    return ModelCommit(model_id=settings.model_id or path.stem, record=record, tables=tables, errors=rows)


def _body_count(prods: list) -> Callable[[dict], int]:
    """Products with a Body representation, given the issues found so far: counted once, and only when some
    product has an issue. ``finish`` needs the count only then (the share refused, its messages), and a count
    over every product cost 0.09 s of a 10,000-element file's parse before its workers could start."""
    count = functools.cache(lambda: sum(1 for p in prods if has_body(p)))
    return lambda issues: count() if issues else 0


def _geometry_keys(path: Path, opened: OpenedIfc, step_ids: list[int], salt: str, text: FileText) -> dict[int, str]:
    """Each product's geometry input hash (``cim.ingest.geometry_key``), all at once from the file's text
    (``cim.ingest.file_digests``, read by the helper), or per entity where the file is not one entity per line.
    None are computed if the graph cannot be hashed: they only save time on the next version."""
    model = opened.file
    try:
        digests = text.digests() or GraphDigests(model, path)
        return geometry_input_hashes(model, [model.by_id(s) for s in step_ids], salt, digests=digests)
    except Exception as exc:  # noqa: BLE001 - never refuse a file because of them
        log.warning("%s: geometry input hashes not computed (%s: %s)", path, type(exc).__name__, exc)
        return {}


def _line_index(path: Path, salt: str, schema: str, text: FileText) -> pa.Table:
    """The file's line index (``cim.ingest.line_index``, read by the helper): its next revision is diffed
    against it. No row when the file is not one entity per line, or it cannot be read: it only saves time on
    the next version."""
    try:
        index = text.line_index(schema)
    except Exception as exc:  # noqa: BLE001 - never refuse a file because of it
        log.warning("%s: line index not computed (%s: %s)", path, type(exc).__name__, exc)
        index = None
    if index is None:
        return LineIndex("", b"", b"").as_table().slice(0, 0)
    return dataclasses.replace(index, salt=salt).as_table()


def load_previous(path: str | Path, reuse: ReuseSource | Previous | None) -> Previous | None:
    """The previous version's geometry rows; if they cannot be read, every product is tessellated."""
    if not isinstance(reuse, ReuseSource):
        return reuse
    try:
        return reuse.load()
    except Exception as exc:  # noqa: BLE001 - reuse only saves time: never refuse a file because of it
        log.warning("%s: the geometry of version %d of %s could not be read (%s: %s); tessellating everything",
                    path, reuse.version, reuse.model_id, type(exc).__name__, exc)
        return None


def _unit_scale(opened: OpenedIfc) -> float:
    """Metres per project length unit; a unit assignment that cannot be read is refused, not guessed."""
    try:
        scale = float(ifcopenshell.util.unit.calculate_unit_scale(opened.file))
    except Exception as exc:  # noqa: BLE001 - ifcopenshell fails with whatever the malformed units give
        raise InputError(opened.path, f"the length unit cannot be read ({type(exc).__name__}: {exc})",
                         "fix the IfcUnitAssignment (a LENGTHUNIT with a numeric conversion factor) and re-export",
                         stage="units") from exc
    if not (math.isfinite(scale) and scale > 0):
        raise InputError(opened.path, f"the length unit gives a scale of {scale!r} m",
                         "fix the IfcUnitAssignment and re-export", stage="units")
    return scale


def _empty(table: str, crs: str) -> pa.Table:
    """A versioned table with no rows and the documented columns (model_id and version come at commit)."""
    return table_schema(table, crs).empty_table().drop_columns(["model_id", "version"])


def _identity_summary(identity: list[tuple[str, str]]) -> list[str]:
    """One warning line for the model record; the details are rows in ingest_errors (stage identity)."""
    if not identity:
        return []
    return [f"{len(identity)} GlobalId problem(s), every product stored under its own key: {identity[0][1]}"
            + (f"; {len(identity) - 1} more in ingest_errors (stage identity)" if len(identity) > 1 else "")]


def _relations_table(rels: list[tuple[str, str, str]]) -> pa.Table:
    return pa.table({"rel_type": [r[0] for r in rels], "relating_global_id": [r[1] for r in rels],
                     "related_global_id": [r[2] for r in rels]},
                    schema=pa.schema([("rel_type", pa.string()), ("relating_global_id", pa.string()),
                                      ("related_global_id", pa.string())]))


def _process(opened: OpenedIfc, idx: RelIndex, step_ids: list[int], georef: Georef, unit_scale: float,
             workers: int, progress: Progress | None, side_work: Callable[[], T], keys: dict[int, str],
             previous: Previous | None = None,
             ) -> tuple[pa.Table, pa.Table, list[Refusal], dict[int, int], T]:
    """Per-element work in chunks (in worker processes when asked); ``side_work`` overlaps with it.

    Every chunk refuses its products placed at absurd positions and describes and meshes the rest. With a
    ``previous`` version, products whose geometry input hash (``keys``) it holds are described but not meshed
    (``reused``: step id -> its row there). Returns elements, meshes, refusals, reused and what ``side_work``
    returned.
    """
    path = str(Path(opened.path).resolve())
    local = workers <= 1 or len(step_ids) < 200
    size = -(-len(step_ids) // CHUNKS_PER_WORKER) if local else len(step_ids) // (workers * CHUNKS_PER_WORKER)
    chunks = list(_chunks(step_ids, max(1, size)))
    prime(path, opened, idx)  # chunks run here and in fork-started workers share the parsed model
    try:
        with contextlib.ExitStack() as stack:
            pool = None if local else stack.enter_context(process_pool(workers))  # workers die with this process

            def run(fn: Callable, *args, **kwargs):
                return _Done(fn(*args, **kwargs)) if pool is None else pool.submit(fn, *args, **kwargs)

            reused = previous.matches(keys) if previous is not None else {}
            skip = frozenset(reused)
            futures = [run(process_chunk_in_worker, path, c, georef, unit_scale, skip.intersection(c),
                           check_placements=True) for c in chunks]
            side = side_work()  # while the workers mesh (in this process: after the chunks, which ran at once)
            parts = []
            for chunk, fut in zip(chunks, futures, strict=True):
                parts.append(fut.result())
                if progress:
                    progress(len(chunk))
    finally:
        release()
    elements, meshes, refusals = _concat(parts)
    return elements, meshes, refusals, reused, side


@dataclass
class _Done:
    """A chunk done in this process, answering like the future of one done in a worker."""

    value: object

    def result(self) -> object:
        return self.value


def _chunks(ids: list[int], size: int):
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _concat(parts: list[Chunk]) -> tuple[pa.Table | None, pa.Table | None, list[Refusal]]:
    if not parts:  # no product in the file (or none left to process)
        return None, None, []
    elements = pa.concat_tables([p.elements for p in parts], promote_options="permissive")
    meshes = pa.concat_tables([p.meshes for p in parts], promote_options="permissive")
    return elements, meshes, [r for p in parts for r in p.refused]


def storey_heights(opened: OpenedIfc, georef: Georef, unit_scale: float,
                   idx: RelIndex | None = None, skip: set[int] = frozenset()) -> dict[str, tuple[float, float]]:
    """(world height above the city datum, height in the model) of each storey, by stored key (GlobalId)."""
    storeys = [s for s in opened.file.by_type("IfcBuildingStorey")
               if s.ObjectPlacement is not None and s.id() not in skip]
    out = {}
    for storey, matrix in zip(storeys, world_matrices([s.ObjectPlacement for s in storeys]), strict=True):
        if matrix is None:
            continue
        local = np.array([[matrix[0, 3], matrix[1, 3], matrix[2, 3]]]) * unit_scale
        if not np.isfinite(local).all() or np.abs(local).max() > ABSURD_M:  # refused by its placement check
            continue
        out[idx.key(storey) if idx else storey.GlobalId] = (float(georef.to_city(local)[0, 2]), float(local[0, 2]))
    return out


def _json(value: dict) -> str:
    return json.dumps(value, sort_keys=True, default=str)
