"""The nightly city-model flow: discover, skip the unchanged, ingest the rest in parallel, record.

Only wiring lives here; every step is one call into ``cim``. Run once with
``python -m flows.nightly run`` (what ``make run`` does) or on a schedule with ``... serve``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Annotated

import typer
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.task_runners import ProcessPoolTaskRunner
from rich.console import Console
from rich.table import Table

from cim.checks import city_clash_check, model_checks
from cim.config import load_config
from cim.errors import CimError
from cim.inbox import discover
from cim.ingest.run import Job, Outcome, commit_job, plan_file, prepare_job, quarantine
from cim.runs import run_row, summary_markdown, summary_rows
from cim.store import Store
from cim.store.delta import now_utc
from flows.server import local_server

NIGHTLY_CRON = "0 2 * * *"


def _retry_transient(task, task_run, state) -> bool:
    """Retry IO hiccups; bad input fails the same way every time, so it is not retried."""
    try:
        state.result()
    except CimError as exc:
        return exc.retryable
    except Exception:
        return False
    return False


@task(name="prepare", retries=2, retry_delay_seconds=5, retry_condition_fn=_retry_transient,
      cache_policy=NO_CACHE, task_run_name="prepare {job.key}")
def prepare(job: Job):
    """Read, georeference and mesh one file in a worker process; writes nothing."""
    import time

    start = time.perf_counter()
    return prepare_job(job), time.perf_counter() - start


@task(name="clash-check")
def clash_check(st: Store, cfg, run_id: str, exports: Path):
    """The city's clash rules over the current models: only pairs with changed elements are re-tested."""
    return city_clash_check(st, ground_z=cfg.ground_elevation_m, base=cfg.root, run_id=run_id, exports=exports)


@flow(name="cim-nightly", task_runner=ProcessPoolTaskRunner(max_workers=2), log_prints=True)
def nightly(config: str = "sample_models/cim.toml", store: str = "cim-data", force: bool = False) -> dict:
    """Ingest what changed in the city inbox into the store and record the run."""
    logger = get_run_logger()
    started = now_utc()
    run_id = started.strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
    cfg = load_config(config)
    st = Store(store, cfg.crs)
    outcomes: list[Outcome] = []
    jobs: list[Job] = []
    for path in discover(cfg):
        try:
            planned = plan_file(st, cfg, path, force=force)
        except CimError as exc:
            outcomes.append(quarantine(st, str(path), exc, run_id))
            continue
        (outcomes.append if isinstance(planned, Outcome) else jobs.append)(planned)
    logger.info("%d inputs: %d to ingest, %d unchanged", len(outcomes) + len(jobs), len(jobs), len(outcomes))
    futures = [prepare.submit(job) for job in jobs]
    for job, future in zip(jobs, futures, strict=True):
        future.wait()
        state = future.state
        if state.is_completed():
            commits, seconds = state.result()
            outcome = commit_job(st, job, commits, run_id, seconds)
            if job.kind == "ifc":
                checks = model_checks(st, outcome.model_ids[0], job.path, placement=job.settings.placement,
                                      run_id=run_id, exports=Path(store) / "exports")
                logger.info("%s: %s", job.key, ", ".join(f"{c.check} {c.summary or c.message}" for c in checks))
            outcomes.append(outcome)
        else:
            error = state.result(raise_on_failure=False)
            outcomes.append(quarantine(st, job.path, error, run_id, kind=job.kind, sha256=job.sha256, key=job.key))
    clash = clash_check(st, cfg, run_id, Path(store) / "exports")
    logger.info("clash check: %s", clash.summary or clash.message)
    run = run_row(run_id, str(get_run_context().flow_run.id), started, now_utc(), outcomes)
    st.append_rows("runs", [run])
    _publish(run, outcomes)
    return {k: v for k, v in run.items() if k != "summary"}


def _publish(run: dict, outcomes: list[Outcome]) -> None:
    create_markdown_artifact(summary_markdown(run, outcomes), key="cim-run-summary", description=run["status"])
    create_table_artifact(summary_rows(outcomes), key="cim-run-files", description="per-file outcome")
    table = Table("file", "result", "models", "versions", "rows", "seconds", "message",
                  title=f"{run['status']} in {run['duration_s']:.1f} s")
    for r in summary_rows(outcomes):
        table.add_row(Path(r["file"]).name, r["result"], r["models"], r["versions"], str(r["rows"]),
                      str(r["seconds"]), r["message"][:70])
    Console(width=None if sys.stdout.isatty() else 160).print(table)


cli = typer.Typer(help="The nightly city-model flow.", no_args_is_help=True, add_completion=False)
ConfigOpt = Annotated[Path, typer.Option(help="City config (cim.toml).")]
StoreOpt = Annotated[Path, typer.Option(help="Store folder.", envvar="CIM_STORE")]


@cli.command()
def run(config: ConfigOpt = Path("sample_models/cim.toml"), store: StoreOpt = Path("cim-data"),
        force: Annotated[bool, typer.Option(help="Re-ingest unchanged files too.")] = False):
    """Run the flow once now. Exit 1 when a file was quarantined (the rest is ingested)."""
    result = nightly(config=str(config), store=str(store), force=force)
    raise typer.Exit(1 if result["n_quarantined"] else 0)


@cli.command()
def serve(config: ConfigOpt = Path("sample_models/cim.toml"), store: StoreOpt = Path("cim-data"),
          cron: Annotated[str, typer.Option(help="Schedule (cron, server time zone).")] = NIGHTLY_CRON,
          port: Annotated[int, typer.Option(help="Port of the local Prefect server (UI at /).")] = 4200):
    """Start a local Prefect server, register the flow on a nightly schedule and run it (Ctrl-C stops)."""
    with local_server(port) as api_url:
        # Prefect reads its API URL when it starts, so the scheduler runs in a child process.
        env = {**os.environ, "PREFECT_API_URL": api_url}
        args = [sys.executable, "-m", "flows.nightly", "schedule", "--config", str(config), "--store", str(store),
                "--cron", cron]
        typer.echo(f"Prefect UI: {api_url.removesuffix('/api')}  schedule: {cron}  (Ctrl-C stops)")
        raise typer.Exit(subprocess.call(args, env=env))


@cli.command(hidden=True)
def schedule(config: ConfigOpt = Path("sample_models/cim.toml"), store: StoreOpt = Path("cim-data"),
             cron: Annotated[str, typer.Option(help="Schedule (cron).")] = NIGHTLY_CRON):
    """Register and run the schedule against PREFECT_API_URL."""
    nightly.serve(name="cim-nightly", cron=cron, parameters={"config": str(config), "store": str(store)})


if __name__ == "__main__":
    cli()
