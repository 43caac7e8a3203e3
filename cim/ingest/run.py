"""Ingest files into a store: skip what is unchanged, quarantine what is bad, commit the rest.

Split in three steps so a flow can run the heavy middle one in worker processes:
``plan_file`` (cheap, decides), ``prepare_job`` (pure: reads the file, writes nothing) and
``commit_job`` / ``quarantine`` (the only writers).
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc

from cim.config import CityConfig, ModelSettings
from cim.errors import CimError, InputError, TransientIOError
from cim.gis import is_gis_file
from cim.ingest.gis import prepare_gis
from cim.ingest.ifc import Progress, file_sha256, prepare_ifc
from cim.store import ModelCommit, Store
from cim.store.delta import now_utc

log = logging.getLogger(__name__)
IFC_SUFFIXES = (".ifc",)


@dataclass
class Job:
    """One file to ingest, with everything a worker process needs (picklable)."""

    path: str
    key: str  # source_path as recorded: relative to the config folder when there is one
    kind: str  # ifc | gis
    sha256: str
    settings: ModelSettings
    city_crs: str


@dataclass
class Outcome:
    path: str
    kind: str
    action: str  # ingested | unchanged | quarantined
    model_ids: list[str] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    seconds: float = 0.0
    n_elements: int = 0
    stage: str | None = None
    message: str | None = None

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def file_kind(path: Path) -> str | None:
    if path.suffix.lower() in IFC_SUFFIXES:
        return "ifc"
    if is_gis_file(path):
        return "gis"
    return None


def plan_file(store: Store, config: CityConfig, path: str | Path, *, force: bool = False) -> Job | Outcome:
    """A Job when the file must be ingested, else the Outcome that says why not."""
    path = Path(path)
    key = config.relative(path) if config.path else str(path)
    kind = file_kind(path)
    if kind is None:
        raise InputError(path, f"unsupported file type {path.suffix!r}",
                         "give an IFC (.ifc) or a GIS file (GeoPackage, GeoJSON, zipped Shapefile, GeoParquet)")
    try:
        sha = file_sha256(path)
    except FileNotFoundError as exc:
        raise InputError(path, "file not found", "check the path") from exc
    except OSError as exc:
        raise TransientIOError(path, f"could not read the file: {exc.strerror}", "it is retried") from exc
    job = Job(str(path), key, kind, sha, config.settings_for(path, kind), config.crs)
    if force:
        return job
    reason = _skip_reason(store, job)
    if reason:
        # A file refused before and not changed since stays in quarantine (no new error row).
        action = "quarantined" if reason.startswith("still quarantined") else "unchanged"
        return Outcome(job.path, kind, action, message=reason, stage="unchanged" if action == "quarantined" else None)
    return job


def _skip_reason(store: Store, job: Job) -> str | None:
    current = store.current_models()
    rows = current.filter(pc.equal(current["source_path"], job.key)).to_pylist()
    if job.kind == "ifc":
        model_id = job.settings.model_id or Path(job.path).stem
        rows = [r for r in rows if r["model_id"] == model_id]
    fingerprint = job.settings.fingerprint(job.city_crs)
    if rows and all(r["sha256"] == job.sha256 and r["settings_hash"] == fingerprint for r in rows):
        return f"unchanged since version {max(r['version'] for r in rows)}"
    errors = store.read("ingest_errors", filters=[("source_path", "=", job.key)])
    same = errors.filter(pc.and_(pc.equal(errors["sha256"], job.sha256), pc.is_null(errors["feature_id"])))
    if same.num_rows and not rows:
        return "still quarantined: unchanged since it was refused (fix the file, or ingest with --force)"
    return None


def prepare_job(job: Job, *, workers: int = 1, progress: Progress | None = None) -> list[ModelCommit]:
    """Read and transform; writes nothing. Raises CimError for bad input."""
    if job.kind == "ifc":
        commit = prepare_ifc(job.path, job.city_crs, job.settings, workers=workers, progress=progress,
                             sha256=job.sha256)
        commit.record["source_path"] = job.key
        for err in commit.errors:
            err["source_path"] = job.key
        return [commit]
    commits = prepare_gis(job.path, job.city_crs, job.settings, sha256=job.sha256)
    for commit in commits:
        commit.record["source_path"] = job.key
        for err in commit.errors:
            err["source_path"] = job.key
    return commits


def commit_job(store: Store, job: Job, commits: list[ModelCommit], run_id: str | None,
               seconds: float) -> Outcome:
    versions = [store.commit(c, run_id=run_id) for c in commits]
    messages = [c.record["message"] for c in commits if c.record.get("message")]
    return Outcome(job.path, job.kind, "ingested", [c.model_id for c in commits], versions, seconds,
                   sum(c.record["n_elements"] for c in commits), message="\n".join(messages) or None)


def quarantine(store: Store, path: str, error: BaseException, run_id: str | None, *, kind: str | None = None,
               sha256: str | None = None, key: str | None = None, seconds: float = 0.0) -> Outcome:
    """Record why a file was refused; nothing of it is stored."""
    if isinstance(error, CimError):
        stage, message = error.stage, error.one_line()
    else:  # a bug or a crash inside a library: still only this file is refused
        stage = "internal"
        message = f"{path}: unexpected {type(error).__name__}: {error}"
        log.error("%s\n%s", message, "".join(traceback.format_exception(error)))
    store.append_rows("ingest_errors", [{
        "run_id": run_id, "at": now_utc(), "source_path": key or path, "sha256": sha256, "stage": stage,
        "error_type": type(error).__name__, "feature_id": None, "message": message}])
    log.warning("quarantined %s", message)
    return Outcome(path, kind or "unknown", "quarantined", seconds=seconds, stage=stage, message=message)


def ingest_file(store: Store, config: CityConfig, path: str | Path, *, run_id: str | None = None,
                workers: int = 1, force: bool = False, progress: Progress | None = None) -> Outcome:
    """Plan, prepare and commit one file; a bad file becomes a quarantine row, never an exception."""
    start = time.perf_counter()
    job: Job | None = None
    try:
        planned = plan_file(store, config, path, force=force)
        if isinstance(planned, Outcome):
            return planned
        job = planned
        commits = prepare_job(job, workers=workers, progress=progress)
        return commit_job(store, job, commits, run_id, time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - the contract is: one bad file never stops the others
        if isinstance(exc, CimError) and exc.retryable:
            raise
        return quarantine(store, str(path), exc, run_id, kind=job.kind if job else None,
                          sha256=job.sha256 if job else None, key=job.key if job else None,
                          seconds=time.perf_counter() - start)
