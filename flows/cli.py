"""`python -m flows.nightly run|serve`: the operators' commands (`make run`, `make serve`)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from cim.config import load_config
from cim.errors import CimError
from flows.report import locations
from flows.server import become_subreaper, server_log, start_child, stop_all, wait_healthy, wait_reaping

DEPLOYMENT = "cim-nightly"
cli = typer.Typer(help="The nightly city-model flow.", no_args_is_help=True, add_completion=False)
ConfigOpt = Annotated[Path, typer.Option(help="City config (cim.toml).", envvar="CIM_CONFIG")]
StoreOpt = Annotated[Path, typer.Option(help="Store folder.", envvar="CIM_STORE")]


class _Stop(Exception):
    """SIGINT or SIGTERM reached `serve`."""


def _print_locations(store: Path, ui: str) -> None:
    where = locations(store)
    typer.echo(f"Prefect UI: {ui}\nstore:      {where['store']}\nexports:    {where['exports']}\n"
               f"alerts:     {where['alerts']}\nlog:        {where['log']}", err=True)


class _DropTemporaryServerNotes(logging.Filter):
    """A one-off run uses Prefect's temporary server; its start/stop notes are noise for operators."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "temporary server" not in str(record.msg)


ClusterOpt = Annotated[str | None, typer.Option(help="Dask scheduler to run on, e.g. tcp://10.0.0.5:8786 (default: "
                                                 "[runtime] dask_address; neither: this machine).")]


@cli.command()
def run(config: ConfigOpt = Path("sample_models/cim.toml"), store: StoreOpt = Path("cim-data"),
        force: Annotated[bool, typer.Option(help="Re-ingest unchanged files too.")] = False,
        cluster: ClusterOpt = None):
    """Run the flow once now. Exit 0 when all is well, 1 when a file was quarantined or a check failed
    (the rest is ingested), 2 when the run could not run (bad config, store, unreachable cluster, or a crash)."""
    from cim.store.location import require_folder
    from flows.cluster import cluster_address, require_cluster, run_nightly

    try:
        cfg = load_config(config)  # a bad config is one line before any Prefect start-up
        require_folder(store)
        address = cluster_address(cluster, cfg)
        if address:  # no silent fallback to this machine: a cluster that does not answer stops the run here
            require_cluster(address, cfg, str(store))
    except CimError as exc:
        typer.echo(f"error: {exc.one_line()}", err=True)
        raise typer.Exit(2) from None
    logging.getLogger("prefect").addFilter(_DropTemporaryServerNotes())
    api = os.environ.get("PREFECT_API_URL")
    _print_locations(store, api.removesuffix("/api") if api else "none for a one-off run (`make serve` keeps one)")
    if address:
        typer.echo(f"cluster:    {address}", err=True)
    try:
        result = run_nightly(str(config), str(store), force, address)
    except CimError as exc:
        typer.echo(f"error: {exc.one_line()}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:  # noqa: BLE001 - the traceback is in the log and the flow run; one line here
        typer.echo(f"error: the run failed: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("stopped: the run is recorded as failed (KeyboardInterrupt)", err=True)
        raise typer.Exit(130) from None
    raise typer.Exit(0 if result["status"] == "completed" else 1)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _raise_stop(signum, frame) -> None:
    raise _Stop


@cli.command()
def serve(config: ConfigOpt = Path("sample_models/cim.toml"), store: StoreOpt = Path("cim-data"),
          port: Annotated[int, typer.Option(help="Local Prefect server port (UI at /).", envvar="CIM_PORT")] = 4200,
          cron: Annotated[str | None, typer.Option(help="Override [schedule] cron.")] = None,
          timezone: Annotated[str | None, typer.Option(help="Override [schedule] timezone.")] = None):
    """Start a local Prefect server and run the flow on the config's schedule until Ctrl-C."""
    try:
        schedule = load_config(config).schedule
    except CimError as exc:
        typer.echo(f"error: {exc.one_line()}", err=True)
        raise typer.Exit(2) from None
    cron, timezone = cron or schedule.cron, timezone or schedule.timezone
    api_url = os.environ.get("PREFECT_API_URL")
    if not api_url and not _port_free(port):
        typer.echo(f"error: port {port} is in use (another `make serve`?); pass PORT=<free port>", err=True)
        raise typer.Exit(2)
    become_subreaper()
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    server = scheduler = None
    code = 0
    try:
        if not api_url:
            api_url = f"http://127.0.0.1:{port}/api"
            typer.echo(f"starting the Prefect server (log: {server_log()})", err=True)
            server = start_child([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                  "--port", str(port)], log=server_log())
            wait_healthy(api_url, server, 120.0, server_log())
        _print_locations(store, api_url.removesuffix("/api"))
        typer.echo(f"schedule:   {cron} ({timezone}); deployment {DEPLOYMENT}/{DEPLOYMENT}; Ctrl-C stops", err=True)
        env = {**os.environ, "PREFECT_API_URL": api_url, "PREFECT_UI_URL": api_url.removesuffix("/api")}
        scheduler = start_child([sys.executable, "-m", "flows.nightly", "schedule", "--config",
                                 str(config.resolve()), "--store", str(store.resolve()), "--cron", cron,
                                 "--timezone", timezone], env=env)
        code = wait_reaping(scheduler, (scheduler.pid, *([server.pid] if server else [])))
    except _Stop:
        typer.echo("stopping the scheduler, its runs and the server ...", err=True)
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        code = 2
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        began = time.monotonic()
        stop_all(scheduler, server)
    typer.echo(f"stopped in {time.monotonic() - began:.1f} s", err=True)
    raise typer.Exit(code)


@cli.command(hidden=True)
def schedule(config: ConfigOpt, store: StoreOpt, cron: Annotated[str, typer.Option()],
             timezone: Annotated[str, typer.Option()]):
    """Register the deployment with its schedule and run its flow runs (against PREFECT_API_URL)."""
    from prefect.client.schemas.schedules import CronSchedule

    from flows.nightly import nightly

    signal.signal(signal.SIGINT, signal.default_int_handler)
    address = load_config(config).runtime.dask_address
    parameters = {"config": str(config), "store": str(store)}
    if address:  # [runtime] dask_address: every scheduled run on that cluster
        from prefect_dask import DaskTaskRunner

        nightly = nightly.with_options(task_runner=DaskTaskRunner(address=address))
        parameters["cluster"] = address
    nightly.serve(name=DEPLOYMENT, schedules=[CronSchedule(cron=cron, timezone=timezone)],
                  parameters=parameters, pause_on_shutdown=False)
