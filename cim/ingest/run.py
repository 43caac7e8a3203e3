"""Ingest files into a store: skip what is unchanged, quarantine what is bad, commit the rest.

Split in three steps so a flow can run the heavy middle one in worker processes:
``plan_file`` (cheap, decides), ``prepare_job`` (pure: reads the file, writes nothing) and
``commit_job`` / ``quarantine`` (the only writers).

A run of many files must never stop on one of them: ``safe_plan``, ``safe_commit`` and ``quarantine``
never raise; whatever goes wrong with a file (its content, a bug, the store refusing its rows) becomes
that file's ``ingest_errors`` row and a quarantined Outcome.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from cim.config import CityConfig, ModelSettings, source_root
from cim.errors import CimError, InputError, TransientIOError
from cim.gis_files import is_gis_file
from cim.ingest.ifc import Progress, load_previous, prepare_ifc
from cim.ingest.reuse import ReuseSource
from cim.ingest.revise import revise
from cim.ingest.same_content import copy_previous, file_hashes
from cim.isolated import call_in_child, start_preload
from cim.store import ModelCommit, Store
from cim.store.delta import now_utc
from cim.text import table_message, table_text

log = logging.getLogger(__name__)
IFC_SUFFIXES = (".ifc",)
# Refusals caused by the store, the disk or the machine (a reading process killed), not by the file: the
# unchanged file is tried again next run.
RETRIED_STAGES = ("commit", "io", "killed")


@dataclass
class Job:
    """One file to ingest, with everything a worker process needs (picklable)."""

    path: str
    key: str  # source_path as recorded: relative to the config folder when there is one
    kind: str  # ifc | gis
    sha256: str
    settings: ModelSettings
    city_crs: str
    force: bool = False  # re-ingest even when the store already holds this input
    reuse: ReuseSource | None = None  # the model's previous version, whose unchanged geometry is reused
    content_sha256: str | None = None  # sha256 without the header's time stamp (cim.ingest.same_content)


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

    def __post_init__(self) -> None:  # printed and stored: no undecodable bytes, no escape sequences
        self.path = table_text(self.path) or ""
        self.message = table_message(self.message)

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
    key = table_text(config.relative(path) if config.path else str(path))  # stored as source_path
    kind = file_kind(path)
    if kind is None:
        raise InputError(path, f"unsupported file type {path.suffix!r}",
                         "give an IFC (.ifc) or a GIS file (GeoPackage, GeoJSON, zipped Shapefile, GeoParquet)")
    try:
        sha, content = file_hashes(path)
    except FileNotFoundError as exc:
        raise InputError(path, "file not found", "check the path") from exc
    except OSError as exc:
        raise TransientIOError(path, f"could not read the file: {exc.strerror}",
                               "it is tried again on the next run") from exc
    job = Job(str(path), key, kind, sha, config.settings_for(path, kind), config.crs, force, content_sha256=content)
    if force:  # a forced re-ingest recomputes every mesh
        return job
    current = store.current_models()  # read once: the skip decision and the reuse source both need it
    reason = _skip_reason(store, job, current)
    if reason:
        # A file refused before and not changed since stays in quarantine (no new error row).
        action = "quarantined" if reason.startswith("still quarantined") else "unchanged"
        return Outcome(job.path, kind, action, message=reason, stage="unchanged" if action == "quarantined" else None)
    if kind == "ifc":
        job.reuse = _reuse_source(store, job, current)
    return job


def _reuse_source(store: Store, job: Job, current: pa.Table) -> ReuseSource | None:
    """The latest committed version of the model this IFC file becomes, if any (``current``: the store's
    ``current_models``); it carries that version's record, which the same-content copy starts from."""
    model_id = job.settings.model_id or Path(job.path).stem
    if not model_id.isprintable() or any("\udc80" <= ch <= "\udcff" for ch in model_id):
        return None  # a name from undecodable bytes is no stored model's id (the ingest refuses it later)
    rows = current.filter(pc.equal(current["model_id"], model_id)).to_pylist() if current.num_rows else []
    if not rows or rows[0]["kind"] != "ifc":
        return None
    return ReuseSource(str(store.root), model_id, rows[0]["version"], record=rows[0])


def _skip_reason(store: Store, job: Job, current: pa.Table) -> str | None:
    rows = current.filter(pc.equal(current["source_path"], job.key)).to_pylist()
    if job.kind == "ifc":
        model_id = job.settings.model_id or Path(job.path).stem
        rows = [r for r in rows if r["model_id"] == model_id]
    fingerprint = job.settings.fingerprint(job.city_crs)
    if rows and all(r["sha256"] == job.sha256 and r["settings_hash"] == fingerprint for r in rows):
        return f"unchanged since version {max(r['version'] for r in rows)}"
    errors = store.read("ingest_errors", filters=[("source_path", "=", job.key)])
    same = errors.filter(pc.and_(pc.equal(errors["sha256"], job.sha256), pc.is_null(errors["feature_id"])))
    same = same.filter(pc.invert(pc.is_in(same["stage"], pa.array(RETRIED_STAGES))))
    if same.num_rows and not rows:
        return "still quarantined: unchanged since it was refused (fix the file, or ingest with --force)"
    return None


def prepare_job(job: Job, *, workers: int = 1, progress: Progress | None = None) -> list[ModelCommit]:
    """Read and transform; writes nothing. Raises CimError for bad input."""
    if job.kind == "ifc":
        commit = _copy_if_same_content(job) or _revise(job)
        if commit is None:
            commit = _prepare_ifc(job, workers, progress)
        commit.record["source_path"] = job.key
        commit.record["source_root"] = source_root(job.path, job.key)
        for err in commit.errors:
            err["source_path"] = job.key
        return [commit]
    from cim.ingest.gis import prepare_gis  # geopandas: loaded for GIS files only

    commits = prepare_gis(job.path, job.city_crs, job.settings, sha256=job.sha256)
    for commit in commits:
        commit.record["source_path"] = job.key
        commit.record["source_root"] = source_root(job.path, job.key)
        for err in commit.errors:
            err["source_path"] = job.key
    return commits


def _prepare_ifc(job: Job, workers: int, progress: Progress | None) -> ModelCommit:
    """The IFC file parsed and meshed in a child process (``cim.isolated``): the parse, which IfcOpenShell
    never frees, goes with it. Only a Dask task spreading its chunks over the cluster keeps the file in its
    worker (the chunks' tasks need that worker's client)."""
    from cim.cluster import in_dask_worker

    arguments = (job.path, job.city_crs, job.settings)
    options = {"workers": workers, "sha256": job.sha256, "content_sha256": job.content_sha256, "reuse": job.reuse}
    if workers > 1 and in_dask_worker():
        return prepare_ifc(*arguments, progress=progress, **options)
    # The previous version is read here: Delta Lake's runtime cannot be used in a forked child.
    options["reuse"] = load_previous(job.path, job.reuse)
    return call_in_child(prepare_ifc, *arguments, path=job.path, progress=progress, **options)


def _copy_if_same_content(job: Job) -> ModelCommit | None:
    """The previous version's rows when only the header's time stamp changed (``cim.ingest.same_content``)."""
    if job.reuse is None or job.content_sha256 is None:
        return None
    try:
        commit = copy_previous(job.reuse, key=job.key, sha256=job.sha256, content_sha256=job.content_sha256,
                               settings_hash=job.settings.fingerprint(job.city_crs),
                               size_bytes=Path(job.path).stat().st_size)
    except Exception as exc:  # noqa: BLE001 - only a shortcut: the file is ingested normally instead
        log.warning("%s: the previous version could not be read (%s: %s); ingesting the file in full",
                    table_text(job.path), type(exc).__name__, table_text(exc))
        return None
    if commit is not None:
        log.info("%s: same content as version %d (only the header's time stamp differs): its rows are reused",
                 table_text(job.path), job.reuse.version)
    return commit


def _revise(job: Job) -> ModelCommit | None:
    """The new version from the lines that changed since the previous one (``cim.ingest.revise``), or None."""
    if job.reuse is None or job.content_sha256 is None:
        return None
    try:
        return revise(job.reuse, job.path, city_crs=job.city_crs, settings=job.settings,
                      sha256=job.sha256, content_sha256=job.content_sha256)
    except Exception as exc:  # noqa: BLE001 - only a shortcut: the file is ingested in full, which reports it
        log.info("%s: ingested in full (%s: %s)", table_text(job.path), type(exc).__name__, table_text(exc))
        return None


def commit_job(store: Store, job: Job, commits: list[ModelCommit], run_id: str | None,
               seconds: float) -> Outcome:
    """Write the prepared models; raises if the store refuses them (``safe_commit`` does not)."""
    done: list[tuple[str, int]] = []
    _commit_all(store, commits, run_id, done, force=job.force)
    return _ingested(job, commits, done, seconds)


def safe_commit(store: Store, job: Job, commits: list[ModelCommit], run_id: str | None,
                seconds: float) -> Outcome:
    """``commit_job`` that never raises: a commit the store refuses becomes the file's quarantine row.

    What the failed commit wrote is rolled back at once (the store's journal), so readers and the
    next writer see the store as it was. The row's stage is ``commit``: the file is tried again on
    the next run even if it does not change. Models of the file committed before the failure (other
    layers of a GeoPackage) stay, and the Outcome names them.
    """
    done: list[tuple[str, int]] = []
    try:
        _commit_all(store, commits, run_id, done, force=job.force)
        return _ingested(job, commits, done, seconds)
    except Exception as exc:  # noqa: BLE001 - one file's failure must not stop the run
        try:
            store.recover()
        except Exception as again:  # noqa: BLE001 - reported; the next writer tries the roll-back again
            log.error("%s: rolling back the failed commit failed too: %s", table_text(job.path), table_text(again))
        outcome = quarantine(store, job.path, exc, run_id, kind=job.kind, sha256=job.sha256, key=job.key,
                             seconds=seconds, stage="commit")
        if done:
            outcome.model_ids, outcome.versions = [m for m, _ in done], [v for _, v in done]
            outcome.message = table_message(f"{outcome.message}\n(stored before the failure: "
                                            f"{', '.join(f'{m} v{v}' for m, v in done)})")
        return outcome


def _commit_all(store: Store, commits: list[ModelCommit], run_id: str | None, done: list[tuple[str, int]], *,
                force: bool = False) -> None:
    """Commit one model after the other, noting in ``done`` each (model_id, version) stored."""
    for commit in commits:
        _clean_texts(commit)
        before = store.latest(commit.model_id)
        try:
            done.append((commit.model_id, store.commit(commit, run_id=run_id, skip_unchanged=not force)))
        except Exception:
            after = _latest_quietly(store, commit.model_id)
            if after is not None and (before is None or after["version"] > before["version"]):
                done.append((commit.model_id, after["version"]))  # failed after its models row: it is stored
            raise


def _latest_quietly(store: Store, model_id: str) -> dict | None:
    try:
        return store.latest(model_id)
    except Exception:  # noqa: BLE001 - only used to report what was stored
        return None


def _ingested(job: Job, commits: list[ModelCommit], done: list[tuple[str, int]], seconds: float) -> Outcome:
    versions = [v for _, v in done]
    if commits and all(c.unchanged_since is not None for c in commits):
        # the same input was committed meanwhile (e.g. by a second ingest of the file at the same time)
        return Outcome(job.path, job.kind, "unchanged", [c.model_id for c in commits], versions, seconds,
                       message=f"unchanged since version {max(versions)}")
    new = [(c, v) for c, v in zip(commits, versions, strict=True) if c.unchanged_since is None]
    messages = [c.record["message"] for c, _ in new if c.record.get("message")]
    return Outcome(job.path, job.kind, "ingested", [c.model_id for c, _ in new], [v for _, v in new], seconds,
                   sum(c.record["n_elements"] for c, _ in new), message="\n".join(messages) or None)


def safe_plan(store: Store, config: CityConfig, path: str | Path, run_id: str | None, *,
              force: bool = False) -> Job | Outcome:
    """``plan_file`` that never raises: a file that cannot even be planned is quarantined."""
    try:
        return plan_file(store, config, path, force=force)
    except Exception as exc:  # noqa: BLE001 - one file's failure must not stop the run
        return quarantine(store, str(path), exc, run_id)


def _clean_texts(commit: ModelCommit) -> None:
    """Make the plain-Python texts of a commit storable (its Arrow tables are valid UTF-8 already)."""
    for name, value in commit.record.items():
        if isinstance(value, str):
            commit.record[name] = table_message(value) if name == "message" else table_text(value)
    for error in commit.errors:
        for name, value in error.items():
            if isinstance(value, str):
                error[name] = table_message(value) if name == "message" else table_text(value)


def quarantine(store: Store, path: str, error: BaseException, run_id: str | None, *, kind: str | None = None,
               sha256: str | None = None, key: str | None = None, seconds: float = 0.0,
               stage: str | None = None) -> Outcome:
    """Record why a file was refused; nothing of it is stored. Never raises.

    Every text is made storable first (a syntax error can quote bytes that are not UTF-8). If the
    store cannot take the row, that is logged and the Outcome still carries the reason.
    """
    stage, message = _describe(path, error, stage)
    row = {"run_id": table_text(run_id), "at": now_utc(), "source_path": table_text(key or path),
           "sha256": table_text(sha256), "stage": stage, "error_type": type(error).__name__, "feature_id": None,
           "message": message}
    try:
        store.append_rows("ingest_errors", [row])
    except Exception as exc:  # noqa: BLE001 - the refusal itself must not stop the run
        note = f"the error row could not be stored: {type(exc).__name__}: {table_message(exc)}"
        log.error("%s (%s)", message, note)
        message = f"{message}\n({note})"
    log.warning("quarantined %s", message)
    return Outcome(path, kind or "unknown", "quarantined", seconds=seconds, stage=stage, message=message)


def _describe(path: str, error: BaseException, stage: str | None) -> tuple[str, str]:
    """(stage, one-line message) of a refusal; a bug or a library crash is logged with its traceback."""
    if isinstance(error, CimError):
        return stage or error.stage, table_message(error.one_line()) or ""
    message = table_message(f"{path}: unexpected {type(error).__name__}: {table_text(error)}") or ""
    try:
        log.error("%s\n%s", message, table_text("".join(traceback.format_exception(error))))
    except Exception:  # noqa: BLE001 - a traceback that cannot be formatted is not worth a crash
        log.error("%s", message)
    return stage or "internal", message


def ingest_file(store: Store, config: CityConfig, path: str | Path, *, run_id: str | None = None,
                workers: int = 1, force: bool = False, progress: Progress | None = None) -> Outcome:
    """Plan, prepare and commit one file; a bad file becomes a quarantine row, never an exception."""
    start = time.perf_counter()
    start_preload()  # while the file is hashed and the store read (cim.isolated)
    planned = safe_plan(store, config, path, run_id, force=force)
    if isinstance(planned, Outcome):
        return planned
    job = planned
    try:
        commits = prepare_job(job, workers=workers, progress=progress)
    except Exception as exc:  # noqa: BLE001 - the contract is: one bad file never stops the others
        return quarantine(store, job.path, exc, run_id, kind=job.kind, sha256=job.sha256, key=job.key,
                          seconds=time.perf_counter() - start)
    return safe_commit(store, job, commits, run_id, time.perf_counter() - start)
