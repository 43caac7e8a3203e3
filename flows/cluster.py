"""The nightly flow on a Dask cluster: Prefect's ``DaskTaskRunner`` (prefect-dask), nothing home-made.

Each file's ingest task runs in a cluster worker (``flows.nightly.ingest``); a large model's chunks are
spread further from there (``cim.cluster``). Without a cluster the flow keeps its local process pool.
A cluster that does not answer stops the run before it starts, recorded in ``runs`` as failed: no
silent fallback to this machine.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from cim.config import CityConfig
from cim.errors import CimError


def cluster_address(cli_value: str | None, cfg: CityConfig) -> str | None:
    """``--cluster`` wins over ``[runtime] dask_address``; neither: a local run."""
    return cli_value or cfg.runtime.dask_address


def require_cluster(address: str, cfg: CityConfig, store: str) -> None:
    """Raise ClusterError (after recording the refused run) unless a scheduler with workers answers."""
    from cim.cluster import connect

    try:
        connect(address).close()
    except CimError as exc:
        record_refused_run(cfg, store, exc)
        raise


def record_refused_run(cfg: CityConfig, store: str, error: CimError) -> None:
    """A ``runs`` row with status ``failed: ...`` for a run that could not start (best effort: logged if not)."""
    import logging

    from cim.runs import run_row
    from cim.store import Store
    from cim.store.delta import now_utc

    started = now_utc()
    run_id = started.strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
    try:
        Store(store, cfg.crs).append_rows("runs", [run_row(run_id, None, started, now_utc(), [],
                                                           error=f"{type(error).__name__}: {error}"[:300])])
    except Exception as exc:  # noqa: BLE001 - the refusal itself is what the operator must see
        logging.getLogger("cim.flows").error("could not record the refused run in the store: %r", exc)


@contextlib.contextmanager
def api_for_workers() -> Iterator[None]:
    """Give cluster workers the flow's Prefect API, so their task runs land in the same flow run.

    Without ``PREFECT_API_URL`` each process would start its own temporary server (about 15 s each, and its
    task runs recorded nowhere the flow can see). The flow's temporary server is started here and its URL put
    in the settings that prefect-dask sends with every task. It listens on 127.0.0.1: workers on other
    machines need a real server (``make serve``, or ``prefect server start``) in ``PREFECT_API_URL``.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield


def run_nightly(config: str, store: str, force: bool, address: str | None) -> dict:
    """The nightly flow, on the cluster at ``address`` (already checked by ``require_cluster``) or locally."""
    from flows.nightly import nightly

    if address is None:
        return nightly(config=config, store=store, force=force)
    from pathlib import Path

    from prefect_dask import DaskTaskRunner

    # workers run in folders of their own: they get absolute paths (the recorded source paths stay relative)
    config, store = str(Path(config).resolve()), str(Path(store).resolve())
    with api_for_workers():
        flow = nightly.with_options(task_runner=DaskTaskRunner(address=address))
        return flow(config=config, store=store, force=force, cluster=address)
