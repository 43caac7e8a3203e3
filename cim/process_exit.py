"""How a cim process ends: Python's own shutdown runs in full, the native libraries' teardown does not.

After a command has done its work and printed its last line, the interpreter's teardown can still abort it:
Arrow's and DuckDB's native thread pools are destroyed while a worker thread is alive ("terminate called
without an active exception", exit -6; apache/arrow#34314, delta-rs#2184). Nothing is lost by then, but a
scheduler, CI or a planner's script reads the status and sees a crash. No library offers a switch for it, so
the entry points (`cim`, `python -m flows.nightly`) end through :func:`run`:

- everything Python-level still happens: non-daemon threads are joined and atexit handlers run (worker pools,
  Dask clients, temporary folders), logging is flushed and closed, stdout and stderr are flushed;
- then the process leaves with the status the command chose, skipping module teardown and C++ static
  destructors, where the abort happens.

Libraries that import cim are not affected: only :func:`run` installs this.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
from collections.abc import Callable

_STATUS: list[int] = []


def status_of(code: object) -> int:
    """The exit status Python gives ``sys.exit(code)``: None is 0, an int itself, anything else 1 (printed)."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def _leave() -> None:
    """The last atexit handler: flush what Python would flush, then end without native teardown."""
    logging.shutdown()  # registered before run() was called, so it would run after this handler
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe (`cim query ... | head`) is not an error here
            stream.flush()
    os._exit(_STATUS[-1] if _STATUS else 1)


def run(main: Callable[[], object]) -> None:
    """Call ``main`` (a Typer app or a Click command) as a program's entry point and end as described above.

    The exit status is the one ``main`` raised with ``SystemExit``; an uncaught exception is printed by Python
    as usual and ends with 1, Ctrl-C with 130.
    """
    if not _STATUS:
        atexit.register(_leave)  # atexit runs last-registered first: registered early, this runs last
    _STATUS[:] = [1]
    try:
        main()
    except SystemExit as stop:
        _STATUS[:] = [status_of(stop.code)]
        raise
    except KeyboardInterrupt:
        _STATUS[:] = [130]
        raise
    _STATUS[:] = [0]
