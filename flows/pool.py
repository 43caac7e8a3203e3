"""The flow's worker processes: a plain process pool, not Prefect task runners.

Prefect's ProcessPoolTaskRunner started a temporary Prefect server in every worker (about 15 s
each). Here the flow keeps its tasks in threads and hands the heavy calls (reading and meshing a
file, the per-model checks) to this pool. Workers are forked from a clean fork server (no copy of
the flow's threads and sockets) that has the ingest modules imported, and they die with the flow.
A worker that crashes (a segfault in a library) breaks the pool: it is rebuilt and the call tried
once more; a second crash is that file's error, not the night's.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver
from pathlib import Path

from cim.errors import CimError
from cim.workers import process_pool

PRELOAD = ["cim.ingest.run", "cim.checks", "cim.qto.run", "cim.tunnel.run"]


class WorkerCrash(CimError):
    stage = "worker"


def _exit_with(pid: int) -> None:
    """End this worker when process ``pid`` (the flow) ends, however it ends.

    A fork-server worker's parent is the fork server, and the fork server only exits once every worker
    has closed its "alive" pipe: after a ``kill -9`` of the flow each would wait for the other forever,
    so the parent-death signal alone is not enough. A thread waits on the flow's pidfd instead.
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)
    except (OSError, AttributeError):  # no pidfd (old kernel): poll
        fd = None

    def watch() -> None:
        if fd is not None:
            select.select([fd], [], [])
        else:
            while os.path.exists(f"/proc/{pid}"):
                time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-flow", daemon=True).start()


def _worker_init(log_file: str | None, flow_pid: int) -> None:
    _exit_with(flow_pid)
    _worker_logging(log_file)


def _worker_logging(log_file: str | None) -> None:
    """Library logs of a worker go to the run's log file (and warnings to stderr), never to Prefect's API."""
    logger = logging.getLogger("cim")
    logger.setLevel(logging.DEBUG)
    if log_file:
        handler = logging.FileHandler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [worker]: %(message)s"))
        logger.addHandler(handler)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(console)
    logger.propagate = False


def warm_up() -> None:
    """Start the fork server (it imports the ingest modules once; an unchanged night never starts it).

    Workers re-run the main module by name as ``__mp_main__``; it is preloaded so that this is cheap, and the
    warning runpy gives for a module already imported is silenced in the fork server (via -W, which it inherits).
    """
    quiet = "ignore::RuntimeWarning:runpy"
    if quiet not in sys.warnoptions:
        sys.warnoptions.append(quiet)
    main = getattr(sys.modules["__main__"].__spec__, "name", None)
    multiprocessing.get_context("forkserver").set_forkserver_preload([*PRELOAD, *([main] if main else [])])
    forkserver.ensure_running()


class Workers:
    """``run(fn, *args)`` in a worker process, from any thread; rebuilt once if a worker crashes."""

    chunk_workers = 1  # a file is one worker's work: its chunks are not spread further

    def __init__(self, max_workers: int, log_file: Path | None = None):
        self._max_workers = max_workers
        self._log_file = str(log_file) if log_file else None
        self._lock = threading.Lock()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        warm_up()
        return process_pool(self._max_workers, start_method="forkserver", initializer=_worker_init,
                            initargs=(self._log_file, os.getpid()))

    def run(self, fn, *args, path: str = "", **kwargs):
        for attempt in (1, 2):
            pool = self._pool
            try:
                return pool.submit(fn, *args, **kwargs).result()
            except BrokenProcessPool as exc:
                with self._lock:
                    if self._pool is pool:
                        pool.shutdown(wait=False, cancel_futures=True)
                        self._pool = self._new_pool()
                if attempt == 2:
                    raise WorkerCrash(path, "the worker process died while handling this file (a crash in a "
                                      "library, or out of memory)", "check the file in a viewer; "
                                      "see the run's log for the worker's last lines") from exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class InTask:
    """The ``Workers`` of a run on a Dask cluster: the flow's task already runs in a cluster worker, so calls run
    right there, and a large model's chunks are spread over the cluster's ``chunk_workers`` threads
    (``cim.cluster``). A worker that dies is the scheduler's to handle: it runs the task again elsewhere."""

    def __init__(self, chunk_workers: int):
        self.chunk_workers = max(1, chunk_workers)

    def run(self, fn, *args, path: str = "", **kwargs):
        return fn(*args, **kwargs)
