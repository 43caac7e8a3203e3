"""Worker processes that die with their parent.

A killed ``cim ingest`` or nightly flow must not leave tessellation workers behind (each holds a
parsed model, hundreds of MB). Linux's ``PR_SET_PDEATHSIG`` makes the kernel send the worker a
SIGKILL when its parent exits, whatever the way the parent died; this is the only way that also
covers SIGKILL of the parent, which no handler in the parent can see.

The kernel's "parent" is the *thread* that forked the worker, not the process: a worker forked from a
short-lived thread (a Prefect task thread, a thread pool) would be killed as soon as that thread
ends, while the pool is still in use. So every worker is started from one long-lived thread of this
process (``_starter``): the pool routes ``submit``, the only call that starts workers, through it.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cim.cluster import ClusterPool

_PR_SET_PDEATHSIG = 1
_STARTER_NAME = "cim-worker-starter"
_starter_lock = threading.Lock()
_starter_pool: tuple[int, ThreadPoolExecutor] | None = None  # (pid that owns it, one thread living as long)


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent exits (Linux; a no-op elsewhere)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _init(user_init: Callable[..., None] | None, args: tuple) -> None:
    die_with_parent()
    if user_init is not None:
        user_init(*args)


def _starter() -> ThreadPoolExecutor:
    """The process-wide thread that starts workers; a new one after a fork (threads do not survive it)."""
    global _starter_pool
    with _starter_lock:
        if _starter_pool is None or _starter_pool[0] != os.getpid():
            _starter_pool = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix=_STARTER_NAME))
        return _starter_pool[1]


class WorkerPool(ProcessPoolExecutor):
    """A ProcessPoolExecutor whose workers die with this process, and not before.

    Leaving its ``with`` block because of an exception (a failed file, Ctrl-C, SIGTERM turned into an
    exception) cancels the queued work and kills the workers instead of waiting for their chunks.
    """

    def submit(self, fn, /, *args, **kwargs) -> Future:
        if threading.current_thread().name.startswith(_STARTER_NAME):
            return super().submit(fn, *args, **kwargs)
        return _starter().submit(super().submit, fn, *args, **kwargs).result()

    def worker_pids(self) -> list[int]:
        """Process ids of the workers started so far."""
        return list(getattr(self, "_processes", None) or {})

    def kill_workers(self) -> None:
        """Stop now: drop queued work and SIGKILL the workers (what they computed is lost)."""
        procs = list((getattr(self, "_processes", None) or {}).values())  # shutdown() forgets them
        self.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            try:
                proc.kill()
                proc.join(timeout=5)  # reap it: no zombie left while this process lives on
            except (OSError, ValueError, AssertionError):  # already gone, closed, or not ours
                pass

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.kill_workers()
        return super().__exit__(exc_type, exc, tb)


def process_pool(max_workers: int, *, start_method: str = "fork", initializer: Callable[..., None] | None = None,
                 initargs: tuple = ()) -> WorkerPool | ClusterPool:
    """A process pool whose workers are killed by the kernel if this process dies.

    ``fork`` (the default) lets workers inherit what the parent already parsed; it starts all workers
    at the first ``submit``. While a Dask cluster is in use (``cim.cluster``), the work goes there instead.
    """
    from cim.cluster import cluster_pool

    if (remote := cluster_pool()) is not None:
        return remote
    return WorkerPool(max_workers=max_workers, mp_context=multiprocessing.get_context(start_method),
                      initializer=_init, initargs=(initializer, initargs))
