"""The nightly flow's worker pool: a worker that dies is that file's error, never the night's."""

from __future__ import annotations

import os
import signal

import pytest

from flows.pool import WorkerCrash, Workers


def _crash() -> None:  # stands for a segfault of the IFC library on a damaged file
    os.kill(os.getpid(), signal.SIGKILL)


def _double(x: int) -> int:
    return 2 * x


def test_a_worker_that_crashes_is_that_files_error_and_the_pool_keeps_working(tmp_path):
    with Workers(2, tmp_path / "nightly.log") as workers:
        with pytest.raises(WorkerCrash) as crash:
            workers.run(_crash, path="crash.ifc")
        assert crash.value.stage == "worker" and crash.value.one_line().startswith("crash.ifc: the worker process")
        assert workers.run(_double, 21, path="other.ifc") == 42
