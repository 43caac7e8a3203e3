"""Running the heavy work on a Dask cluster instead of this machine's process pool.

A run given a cluster (``--cluster tcp://host:8786`` or ``[runtime] dask_address``) connects to it
first and refuses to start when nobody answers: a night that silently fell back to one machine would
look fine and take ten times as long. Chunks of a large model go to the cluster through the same
``process_pool`` call that starts local workers (``cim.workers``), so ``cim.ingest`` does not know
where its chunks run. Inside a Dask task (the nightly flow's per-file task) the chunks are submitted
from the worker itself, which steps out of its thread pool while it waits for them, so a cluster of
single-threaded workers does not deadlock on a file waiting for its own chunks.

``distributed`` is imported only when a cluster is in use: ``cim query`` must start in under a second.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from cim.errors import CimError

CONNECT_TIMEOUT_S = 10.0
_ADDRESS = re.compile(r"^(tcp|tls|ucx|inproc)://[^\s/:]+(:\d{1,5})?$")
_client_lock = threading.Lock()
_client: Any = None  # the distributed.Client of this process while ``use_cluster`` is active


class ClusterError(CimError):
    stage = "cluster"


def check_address(address: str) -> str:
    """The scheduler address as Dask takes it; a typo is one line, not a 10 s wait."""
    if not _ADDRESS.match(address or ""):
        raise ClusterError(address, "is not a Dask scheduler address",
                           "use the address `dask scheduler` prints, e.g. --cluster tcp://10.0.0.5:8786")
    return address


def connect(address: str, timeout_s: float = CONNECT_TIMEOUT_S):
    """A ``distributed.Client`` of the scheduler at ``address``, or ClusterError (one line, never a fallback)."""
    check_address(address)
    from distributed import Client

    try:
        client = Client(address, timeout=f"{timeout_s}s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(address, f"no Dask scheduler answers there ({type(exc).__name__})",
                           "start one (`dask scheduler` and `dask worker <address>` on each machine), fix "
                           "--cluster / [runtime] dask_address, or leave both out to run on this machine") from None
    if not client.scheduler_info().get("workers"):
        try:
            client.wait_for_workers(1, timeout=timeout_s)
        except (OSError, TimeoutError):
            client.close()
            raise ClusterError(address, "the Dask scheduler answers but has no workers",
                               "start workers with `dask worker <address>` on the ingest machines") from None
    return client


def worker_threads(client) -> int:
    """How many tasks the cluster runs at once (its workers' threads)."""
    return max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info().get("workers", {}).values()))


@contextlib.contextmanager
def use_cluster(client) -> Iterator[None]:
    """While active, ``cim.workers.process_pool`` in this process hands its work to ``client``'s cluster."""
    global _client
    with _client_lock:
        previous, _client = _client, client
    try:
        yield
    finally:
        with _client_lock:
            _client = previous


def in_dask_worker() -> bool:
    if "distributed" not in sys.modules:
        return False
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return False
    return True


def cluster_pool() -> ClusterPool | None:
    """The pool to use instead of local processes: this process's cluster, or the cluster this task runs on."""
    if _client is not None:
        return ClusterPool(_client)
    if in_dask_worker():
        return ClusterPool(None)
    return None


class ClusterPool:
    """The part of ``concurrent.futures.Executor`` cim uses (``with``, ``submit``), backed by Dask.

    Inside a task, the task's thread leaves the worker's thread pool only while it waits for a chunk
    (``secede``/``rejoin``), not while it reads the file or does its own share of the work: a worker whose
    slot stayed free the whole time would start every other file's task at once.
    Leaving the ``with`` block because of an exception cancels what is still queued, as the local pool does.
    """

    def __init__(self, client) -> None:
        self._client = client
        self._in_task = client is None
        self._futures: list = []

    def __enter__(self) -> ClusterPool:
        if self._in_task:
            from distributed import get_client

            self._client = get_client()
        return self

    def submit(self, fn: Callable, /, *args, **kwargs):
        future = self._client.submit(functools.partial(fn, **kwargs) if kwargs else fn, *args, pure=False)
        self._futures.append(future)
        return _Seceding(future) if self._in_task else future

    def worker_pids(self) -> list[int]:
        return []

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            with contextlib.suppress(Exception):
                self._client.cancel(self._futures)
        self._futures = []


class _Seceding:
    """A future whose ``result()`` gives the worker's thread slot back while it waits."""

    def __init__(self, future) -> None:
        self._future = future

    def result(self, timeout: float | None = None):
        from distributed import rejoin, secede

        secede()
        try:
            return self._future.result(timeout)
        finally:
            rejoin()


def chunk_spread(sizes: list[int], threads: int) -> list[int]:
    """Over how many of the cluster's threads each file's chunks are spread (1: the file is one task).

    Files alone keep every worker busy when there are at least as many as threads, and a file's chunks
    sent to other workers make each of them parse the file again: on a city night that is a third more
    CPU for nothing. A file's chunks are spread only when the files are fewer than the threads, or when
    the file is larger than an even share of the night (its one worker would finish long after the rest).
    """
    total = sum(sizes)
    return [threads if len(sizes) < threads or size * threads > total else 1 for size in sizes]


def _size(path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:  # gone since it was planned: its task reports that
        return 0


def ingest_on_cluster(client, store, config, paths: list, *, force: bool = False, checks: bool = True) -> list:
    """``cim ingest --cluster``: every file prepared in a cluster worker at once (a large model's chunks spread
    further from there, see ``chunk_spread``), committed here one by one as ``ingest_file`` would: this process
    stays the one writer.
    """
    import dataclasses
    import time
    from pathlib import Path

    from distributed import as_completed

    from cim.ingest.run import Outcome, prepare_job, safe_plan

    start = time.perf_counter()
    planned = [safe_plan(store, config, path, None, force=force) for path in paths]
    planned = [p if isinstance(p, Outcome) else dataclasses.replace(p, path=str(Path(p.path).resolve()))
               for p in planned]  # workers have their own working folder: they get absolute paths
    jobs = {i: job for i, job in enumerate(planned) if not isinstance(job, Outcome)}
    sizes = {i: _size(job.path) for i, job in jobs.items()}
    spread = chunk_spread(list(sizes.values()), worker_threads(client))
    # Largest files first (Dask runs higher priorities first): the night ends with small files on every worker,
    # not one worker finishing a big model while the others wait.
    futures = {client.submit(functools.partial(prepare_job, workers=n), job, pure=False, priority=sizes[i] >> 10): i
               for (i, job), n in zip(jobs.items(), spread, strict=True)}
    outcomes = {i: job for i, job in enumerate(planned) if i not in jobs}
    with client.as_current():  # as_completed finds its client there
        for future in as_completed(futures):  # committed as they come: the writer works while the workers do
            i = futures.pop(future)  # dropped after its commit: the worker then frees the file's meshes
            outcomes[i] = _commit(store, jobs[i], future, start, checks)
    return [outcomes[i] for i in range(len(planned))]


def _commit(store, job, future, start: float, checks: bool):
    """One file's prepared result committed by this process (the one writer), or its failure quarantined."""
    import time

    from cim.checks import describe, model_checks
    from cim.ingest.run import quarantine, safe_commit

    try:
        commits = future.result()
    except Exception as exc:  # noqa: BLE001 - one bad file never stops the others
        return quarantine(store, job.path, exc, None, kind=job.kind, sha256=job.sha256, key=job.key,
                          seconds=time.perf_counter() - start)
    outcome = safe_commit(store, job, commits, None, time.perf_counter() - start)
    if checks and outcome.action == "ingested" and outcome.kind == "ifc":
        for check in model_checks(store, outcome.model_ids[0], job.path, placement=job.settings.placement):
            outcome.message = "\n".join(filter(None, [outcome.message, describe(check)]))
    return outcome
