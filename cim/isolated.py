"""One file's work in a short-lived child process: what a library keeps of the file goes when the child ends.

IfcOpenShell never gives back the memory of a parsed file: ``del`` of an ``ifcopenshell.file`` frees none of
it (0.9.0; measured +25-39 MB per open of a 7 MB file, opening the same file again adds as much again, and
``malloc_trim`` returns nothing). A process that opens file after file grows by every model it parsed: a Dask
worker over a 200-model city night reached 2.9 GB, and `cim ingest` of a folder or the nightly flow grow the
same way. :func:`call_in_child` runs the work in a forked child instead; the result (Arrow tables, picklable)
comes back through a pipe and the child's memory, leak included, goes with it.

It also contains crashes: a geometry kernel that dies on a damaged file (SIGSEGV) ends the child, not the run,
and the file is refused with a message naming the signal. A fork costs about 30 ms per GB of the parent's
memory (page tables; the child shares the pages until it writes), and the child inherits what the parent
imported, so nothing is loaded again.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from cim.errors import CimError
from cim.workers import die_with_parent

T = TypeVar("T")


class ChildDied(CimError):
    """The process working on a file ended without a result: a crash in a native library, or it was killed."""

    stage = "crash"


def call_in_child(fn: Callable[..., T], /, *args, path: str | Path,
                  progress: Callable[[int], None] | None = None, **kwargs) -> T:
    """``fn(*args, **kwargs)`` run in a forked child, its result or exception returned or raised here.

    ``progress``, if given, is passed to ``fn`` as a function that reports back to this process, where the
    real ``progress`` is called. Leaving early (an exception here, Ctrl-C, SIGTERM) kills the child.
    """
    with ChildCall(fn, args, kwargs, path=path, report=progress is not None) as child:
        while True:
            kind, value = child.receive()
            if kind == "done":
                return value
            if progress is not None:
                progress(value)


def start_in_child(fn: Callable[..., T], /, *args, path: str | Path, **kwargs) -> ChildCall:
    """``fn(*args, **kwargs)`` started in a forked child while this process goes on; ``fn`` gets a ``progress``
    function whose values :meth:`ChildCall.receive` returns here in order, then its result. Use it as a
    context manager: leaving it kills a child still at work."""
    return ChildCall(fn, args, kwargs, path=path, report=True)


class ChildCall:
    """A function running in a forked child, and the pipe its messages come back through."""

    def __init__(self, fn: Callable, args: tuple, kwargs: dict, *, path: str | Path, report: bool) -> None:
        # os.fork, not multiprocessing.Process: the caller may itself be a daemonic pool worker (a review's
        # ingest), which multiprocessing does not let start processes.
        _preload()
        reader, writer = multiprocessing.Pipe(duplex=False)
        pid = os.fork()  # the kernel kills the child if the thread that forked it (this one) ends: cim.workers
        if pid == 0:
            reader.close()
            _run(writer, fn, args, kwargs, report)  # never returns
        writer.close()
        self.pid, self.reader, self.path = pid, reader, path
        self.status: int | None = None  # set once the child is reaped
        self.answered = False

    def receive(self) -> tuple[str, object]:
        """The child's next message: ("progress", value) or ("done", result); its exception is raised here."""
        try:
            kind, value = self.reader.recv()
        except EOFError:
            self.status = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
            raise _died(self.path, self.status) from None
        if kind == "progress":
            return kind, value
        self.answered = True  # the child leaves right after its answer
        if kind == "error":
            raise value
        return kind, value

    def close(self) -> None:
        """Reap the child; one that has not answered (this process is leaving early) is killed first."""
        self.reader.close()
        if self.status is None:
            if not self.answered:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            self.status = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])

    def __enter__(self) -> ChildCall:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_preloading: list[threading.Thread] = []


def start_preload() -> None:
    """Start importing pandas in a thread, for :func:`call_in_child` to find done.

    pyarrow imports pandas on its first conversion of Python values (``pa.array``, ``Table.from_pylist``; 0.2 s
    of imports), so a child that has not inherited it imports it itself, and so does every worker the child
    forks, on the critical path of each file. Started early (while the file is hashed and the store read,
    which leave the interpreter free), the import costs a cold ``cim ingest`` little.
    """
    if not _preloading and "pandas" not in sys.modules:
        thread = threading.Thread(target=importlib.import_module, args=("pandas",), name="cim-preload", daemon=True)
        thread.start()
        _preloading.append(thread)


def _preload() -> None:
    """pandas imported before forking (a fork during an import would leave the child its import lock)."""
    start_preload()
    for thread in _preloading:
        thread.join()


def _run(conn, fn: Callable, args: tuple, kwargs: dict, report: bool) -> None:
    """The child: do the work, send what came of it, and leave without the parent's exit handlers.

    Everything inherited is frozen out of the garbage collector first: a collection here would destroy the
    parent's unreachable objects, and a DuckDB connection destroyed in a forked child aborts it (its thread
    pool's threads were not copied by the fork)."""
    gc.freeze()
    die_with_parent()
    status = 0
    try:
        if report:
            kwargs["progress"] = lambda n: conn.send(("progress", n))
        result = fn(*args, **kwargs)
        conn.send(("done", result))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent, which decides
        status = 1
        try:
            conn.send(("error", exc))
        except Exception:  # noqa: BLE001 - an exception that does not pickle: its text does
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()
        os._exit(status)  # atexit handlers, Prefect's and Dask's state belong to the parent


def _died(path: str | Path, exitcode: int | None) -> ChildDied:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:  # a real-time or unnamed signal
            name = f"signal {-exitcode}"
        if -exitcode == signal.SIGKILL:
            return ChildDied(path, "the process reading the file was killed (SIGKILL), most likely for lack of "
                             "memory", "give the run more memory or fewer workers; the file is tried again on "
                             "the next run", stage="killed")
        return ChildDied(path, f"a library crashed reading the file ({name}); nothing of it was stored",
                         "the file is likely damaged: validate it and re-export it from the authoring tool")
    return ChildDied(path, f"the process reading the file ended without a result (exit code {exitcode})",
                     "run again with --verbose to see the library's messages")
