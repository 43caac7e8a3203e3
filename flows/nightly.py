"""The nightly city-model flow: discover, skip the unchanged, ingest the rest in parallel, record.

Only wiring lives here; every step is one call into ``cim``. Run once with
``python -m flows.nightly run`` (what ``make run`` does) or on the config's schedule with ``... serve``.

The contract operators rely on: one bad file never fails the night. Every per-file failure,
including one inside commit or quarantine, becomes that file's quarantine row; the run is always
recorded in ``runs`` (also when a check or the flow itself crashes), and a run that needs attention
leaves an alert.
"""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
import uuid
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.task_runners import ThreadPoolTaskRunner

from cim.alerts import alert_payload, needs_attention, send_alert
from cim.checks import CheckOutcome, city_clash_check, describe, model_checks_at
from cim.config import CityConfig, load_config
from cim.errors import CimError
from cim.inbox import discover
from cim.ingest.run import Job, Outcome, prepare_job, quarantine, safe_commit, safe_plan
from cim.lifecycle.inbox import pending, run_job
from cim.runs import missed_schedules, quarantined_files, run_row
from cim.store import Store
from cim.store.compact import compact_quietly
from cim.store.delta import now_utc
from flows.pool import InTask, Workers
from flows.report import publish, run_log

WORKERS = 2  # ifcopenshell holds the GIL: processes, one per core of the target machines

log = logging.getLogger("cim.flows")


def _quarantine(st: Store, job: Job, error: BaseException, run_id: str, seconds: float = 0.0) -> Outcome:
    """The file's quarantine row (``quarantine`` never raises: a row it cannot store is logged and reported)."""
    return quarantine(st, job.path, error, run_id, kind=job.kind, sha256=job.sha256, key=job.key, seconds=seconds)


def _retry_transient(task, task_run, state) -> bool:
    """Retry IO hiccups; bad input fails the same way every time, so it is not retried."""
    try:
        state.result()
    except CimError as exc:
        return exc.retryable
    except Exception:
        return False
    return False


@task(name="ingest", retries=2, retry_delay_seconds=5, retry_condition_fn=_retry_transient,
      cache_policy=NO_CACHE, task_run_name="ingest {job.key}")
def ingest(job: Job, workers: Workers | InTask, st: Store, run_id: str,
           exports: str) -> tuple[Outcome, list[CheckOutcome]]:
    """Prepare one file in a worker, commit it here, then run its checks in a worker; raises only to retry."""
    start = time.perf_counter()
    try:
        commits = workers.run(prepare_job, job, workers=workers.chunk_workers, path=job.key)
    except Exception as exc:  # noqa: BLE001 - one bad file never stops the others
        if isinstance(exc, CimError) and exc.retryable:
            raise
        return _quarantine(st, job, exc, run_id, time.perf_counter() - start), []
    outcome = safe_commit(st, job, commits, run_id, time.perf_counter() - start)  # never raises
    if job.kind != "ifc" or outcome.action != "ingested":
        return outcome, []
    try:
        checks = workers.run(model_checks_at, str(st.root), st.crs, outcome.model_ids[0], job.path,
                             placement=job.settings.placement, run_id=run_id, exports=exports, path=job.key)
    except Exception as exc:  # noqa: BLE001 - a crashed check is reported, the model stays ingested
        checks = [CheckOutcome("checks", outcome.model_ids[0], False, message=str(exc))]
    logger = get_run_logger()
    for check in checks:
        (logger.info if check.ok else logger.warning)("%s: %s", job.key, describe(check))
    return outcome, checks


@task(name="stage-gates", cache_policy=NO_CACHE)
def stage_gates(st: Store, cfg: CityConfig) -> list[str]:
    """The gate each file in the [lifecycle] stage inbox calls for; one summary line per gate run."""
    lines = [line for job in pending(cfg) if (line := run_job(st, cfg, job)) is not None]
    for line in lines:
        get_run_logger().info("%s", line)
    return lines


@task(name="clash-check", cache_policy=NO_CACHE)
def clash_check(st: Store, cfg: CityConfig, run_id: str, exports: Path) -> CheckOutcome:
    """The city's clash rules over the current models: only pairs with changed elements are re-tested.

    A large city (or ``[clash] tile_size``) is checked by tiles; on a Dask cluster this task runs in a worker and
    each tile becomes a Dask task of its own (``cim.clash.tiled``), this task merging and writing their clashes."""
    return city_clash_check(st, ground_z=cfg.ground_elevation_m, base=cfg.root, run_id=run_id, exports=exports,
                            tile_size=cfg.clash.tile_size)


def _plan(st: Store, cfg: CityConfig, run_id: str, force: bool) -> tuple[list[Outcome], list[Job]]:
    outcomes: list[Outcome] = []
    jobs: list[Job] = []
    for path in discover(cfg):
        planned = safe_plan(st, cfg, path, run_id, force=force)  # a file that cannot be planned: its quarantine row
        (outcomes.append if isinstance(planned, Outcome) else jobs.append)(planned)
    return outcomes, jobs


def _pool(cluster: str | None, log_file: Path):
    """This machine's worker processes, or (on a Dask cluster, where each task already runs in a worker) none."""
    if cluster is None:
        return Workers(WORKERS, log_file)
    from cim.cluster import worker_threads

    return contextlib.nullcontext(InTask(worker_threads(get_run_context().task_runner.client)))


def _ingest_all(st: Store, jobs: list[Job], run_id: str, exports: Path, log_file: Path,
                outcomes: list[Outcome], checks: list[CheckOutcome], cluster: str | None = None) -> None:
    """Appends to ``outcomes`` and ``checks`` as files finish, so a run stopped half-way records what it did."""
    if not jobs:  # an unchanged night starts no worker process
        return
    with _pool(cluster, log_file) as workers:
        futures = [ingest.submit(job, workers, st, run_id, str(exports)) for job in jobs]
        for job, future in zip(jobs, futures, strict=True):
            future.wait()
            if future.state.is_completed():
                outcome, file_checks = future.result()
                checks += file_checks
            else:  # retries exhausted on a transient error, or a bug in the task
                outcome = _quarantine(st, job, future.state.result(raise_on_failure=False), run_id)
            outcomes.append(outcome)


def _deployed() -> bool:
    try:
        return get_run_context().flow_run.deployment_id is not None
    except Exception:  # noqa: BLE001
        return False


def _previous_start(st: Store):
    try:
        runs = st.read("runs", columns=["started_at"])
        return max(runs["started_at"].to_pylist(), default=None)
    except Exception as exc:  # noqa: BLE001 - only used to flag missed nights
        log.warning("could not read the previous run: %s", exc)
        return None


@flow(name="cim-nightly", task_runner=ThreadPoolTaskRunner(max_workers=8), log_prints=True)
def nightly(config: str = "sample_models/cim.toml", store: str = "cim-data", force: bool = False,
            cluster: str | None = None) -> dict:
    """Ingest what changed in the city inbox into the store and record the run (always).

    ``cluster``: the Dask scheduler the flow's task runner is connected to (``flows.cluster``), or None."""
    logger = get_run_logger()
    started = now_utc()
    run_id = started.strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
    cfg = load_config(config)
    st = Store(store, cfg.crs)
    exports = Path(store) / "exports"
    loggers = [logging.getLogger(name) for name in ("cim", "prefect.flow_runs", "prefect.task_runs")]
    with run_log(store, loggers) as lf:
        logger.info("run %s: config %s, store %s%s", run_id, Path(config).resolve(), Path(store).resolve(),
                    f", on the Dask cluster at {cluster}" if cluster else "")
        # only a scheduled run (of the served deployment) looks for missed nights: `make run` is not on a schedule
        missed = missed_schedules(_previous_start(st), started, cfg.schedule) if _deployed() else []
        for when in missed:
            logger.warning("the run scheduled for %s did not start (no run within %.0f minutes)",
                           when.isoformat(timespec="minutes"), cfg.schedule.late_after_minutes)
        outcomes: list[Outcome] = []
        checks: list[CheckOutcome] = []
        gates: list[str] = []  # the stage gates run (cim.lifecycle.inbox): lines of the summary
        error: BaseException | None = None
        try:
            planned, jobs = _plan(st, cfg, run_id, force)
            outcomes += planned
            logger.info("%d inputs: %d to ingest, %d unchanged or still quarantined",
                        len(outcomes) + len(jobs), len(jobs), len(outcomes))
            _ingest_all(st, jobs, run_id, exports, lf, outcomes, checks, cluster)
            gates += stage_gates(st, cfg)
            clash = clash_check(st, cfg, run_id, exports)
            (logger.info if clash.ok else logger.warning)("%s", describe(clash))
            checks.append(clash)
            compact_quietly(st)  # the night's commits merged into few files: tomorrow's reads stay quick
        except BaseException as exc:  # the run is recorded whatever happened, then the error goes on
            error = exc
            if isinstance(exc, Exception):  # a bug: its traceback goes to the log
                logger.error("the run stopped: %s\n%s", exc, "".join(traceback.format_exception(exc)))
            else:  # Ctrl-C, SIGTERM (`make serve` stopping): no traceback
                logger.warning("the run was stopped (%s); what it did so far is recorded", type(exc).__name__)
        result = _record(st, cfg, store, run_id, started, outcomes, checks, missed, error, gates)
    if error is not None:
        raise error
    return result


def _record(st: Store, cfg: CityConfig, store: str, run_id: str, started, outcomes: list[Outcome],
            checks: list[CheckOutcome], missed: list, error: BaseException | None, gates: list[str]) -> dict:
    """The runs row, the artifacts and the alert; each step guarded so the others still happen."""
    logger = get_run_logger()
    failed = [c for c in checks if not c.ok]
    reason = None if error is None else (f"{type(error).__name__}: {error}".splitlines()[0])[:300]
    try:
        flow_run_id = str(get_run_context().flow_run.id)
    except Exception:  # noqa: BLE001
        flow_run_id = None
    run = run_row(run_id, flow_run_id, started, now_utc(), outcomes, failed_checks=len(failed), error=reason)
    try:
        st.append_rows("runs", [run])
    except Exception as exc:  # noqa: BLE001 - still publish and alert
        logger.error("could not record the run in the store: %r", exc)
    payload = alert_payload(run, quarantined_files(outcomes),
                            [{"check": c.check, "model_id": c.model_id, "reason": c.message} for c in failed],
                            missed, city=cfg.name, store=store)
    extra = [f"missed: the run scheduled for {t.isoformat(timespec='minutes')} did not start" for t in missed]
    extra += gates
    try:
        if needs_attention(payload):
            for where in send_alert(payload, store, cfg.alerts):
                extra.append(f"alert sent to {where}")
        publish(run, outcomes, extra)
    except Exception as exc:  # noqa: BLE001
        logger.error("could not publish the run summary: %r", exc)
    return {k: v for k, v in run.items() if k != "summary"}


if __name__ == "__main__":
    from cim.process_exit import run
    from flows.cli import cli

    run(cli)
