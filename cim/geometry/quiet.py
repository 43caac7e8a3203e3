"""Keep the geometry kernel's console chatter off the console, and in the log.

IfcOpenShell's C++ kernel writes diagnostics straight to file descriptors 1 and 2 (hundreds of
``local z: 0,0,1; delta: 0,0,0`` lines for the sample tunnel, dumps of faces for swept solids), below
Python's ``sys.stdout``: only pointing the descriptors elsewhere catches it. ``KernelOutput.quiet()``
does that around each kernel call; the text caught is logged once, at debug level, when the job ends.

Descriptors belong to the whole process, so the swap is shared between threads: the first window
in points fds 1 and 2 at a private temporary file, the last one out puts them back (even on an
exception). A process forked while a window is open gets its own descriptors back at once.

Windows are kept to the kernel calls themselves, but the kernel releases the GIL: console output
that *other threads of the same process* write during a call is caught too (it ends up in the same
debug record). Log handlers writing to files or to an API are not affected; the heavy
meshing runs in worker processes (``cim.workers``), whose windows touch only their own descriptors.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from types import TracebackType

log = logging.getLogger(__name__)
MAX_LOGGED_CHARS = 4000  # of caught text per debug record; the rest is counted, not kept

_lock = threading.Lock()
_depth = 0  # windows open in this process (all threads)
_saved: tuple[int, int] | None = None  # the real fds 1 and 2 while a window is open
_sink: int | None = None  # unlinked temporary file that receives fds 1 and 2 during windows
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None)
except OSError:  # pragma: no cover - no C library to flush (not Linux/macOS)
    _LIBC = None


def _flush_c_streams() -> None:
    """Flush C stdio buffers: a kernel line buffered during a window must land in the window's file."""
    if _LIBC is not None:
        _LIBC.fflush(None)


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()


def _open_window() -> None:
    global _depth, _saved, _sink
    with _lock:
        _depth += 1
        if _depth > 1:
            return
        _flush_python_streams()  # what Python wrote before the window goes where it was meant to
        _flush_c_streams()
        try:
            if _sink is None:
                fd, name = tempfile.mkstemp(prefix="cim-kernel-output-")
                os.unlink(name)
                _sink = fd
            saved = (os.dup(1), os.dup(2))
        except OSError:  # fds 1/2 closed (a daemon) or no temp space: nothing to silence, carry on
            return
        os.dup2(_sink, 1)
        os.dup2(_sink, 2)
        _saved = saved


def _close_window() -> tuple[bytes, int]:
    """Close a window; the last one out restores fds 1 and 2 and returns what was caught (head, size)."""
    global _depth, _saved
    with _lock:
        _depth -= 1
        if _depth > 0 or _saved is None:
            return b"", 0
        _flush_c_streams()
        out, err = _saved
        _saved = None
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.close(out)
        os.close(err)
        return _drain()


def _drain() -> tuple[bytes, int]:
    """The start of what the sink holds (enough to log) and its size; then empty it."""
    assert _sink is not None
    size = os.fstat(_sink).st_size
    if not size:
        return b"", 0
    head = os.pread(_sink, min(size, MAX_LOGGED_CHARS * 4), 0)
    os.ftruncate(_sink, 0)
    os.lseek(_sink, 0, os.SEEK_SET)
    return head, size


def _after_fork_in_child() -> None:
    """A child forked during a window (another thread was meshing) gets the real fds 1 and 2 back."""
    global _lock, _depth, _saved, _sink
    _lock = threading.Lock()
    if _saved is not None:
        os.dup2(_saved[0], 1)
        os.dup2(_saved[1], 2)
        os.close(_saved[0])
        os.close(_saved[1])
    if _sink is not None:
        os.close(_sink)  # shared with the parent (same offset): the child makes its own when needed
    _depth, _saved, _sink = 0, None, None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=lambda: _lock.acquire(), after_in_parent=lambda: _lock.release(),
                        after_in_child=_after_fork_in_child)


class KernelOutput:
    """What the kernel printed during one job (a chunk of products), logged once at debug level.

    Usage: ``with KernelOutput("meshing x.ifc") as kernel:`` then ``with kernel.quiet(): <kernel call>``.
    """

    def __init__(self, what: str, logger: logging.Logger = log):
        self.what = what
        self.logger = logger
        self.caught = bytearray()
        self.n_bytes = 0

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """Send fds 1 and 2 to the job's log instead of the console while the block runs."""
        _open_window()
        try:
            yield
        finally:
            self._keep(*_close_window())

    def _keep(self, data: bytes, size: int) -> None:
        self.n_bytes += size
        room = MAX_LOGGED_CHARS - len(self.caught)
        if room > 0:
            self.caught += data[:room]

    def text(self) -> str:
        text = self.caught.decode("utf-8", "replace").rstrip()
        if self.n_bytes > len(self.caught):
            text += f"\n[... {self.n_bytes - len(self.caught)} more bytes not kept]"
        return text

    def __enter__(self) -> KernelOutput:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.n_bytes:
            self.logger.debug("geometry kernel output while %s (%d bytes):\n%s", self.what, self.n_bytes, self.text())


@contextlib.contextmanager
def kernel_quiet(what: str, logger: logging.Logger = log) -> Iterator[None]:
    """One window around a whole block, logged when it ends (for code that is not a generator)."""
    with KernelOutput(what, logger) as kernel, kernel.quiet():
        yield
