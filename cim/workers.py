"""Worker processes that die with their parent.

A killed ``cim ingest`` or nightly flow must not leave tessellation workers behind (each holds a
parsed model, hundreds of MB). Linux's ``PR_SET_PDEATHSIG`` makes the kernel send the worker a
SIGKILL when its parent thread exits, whatever the way the parent died; this is the only way that
also covers SIGKILL of the parent, which no handler in the parent can see.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

_PR_SET_PDEATHSIG = 1


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


def process_pool(max_workers: int, *, start_method: str = "fork", initializer: Callable[..., None] | None = None,
                 initargs: tuple = ()) -> ProcessPoolExecutor:
    """A process pool whose workers are killed by the kernel if this process dies."""
    return ProcessPoolExecutor(max_workers=max_workers, mp_context=multiprocessing.get_context(start_method),
                               initializer=_init, initargs=(initializer, initargs))
