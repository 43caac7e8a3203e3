"""The geometry kernel's C++ chatter stays off the console (it goes to the debug log), and fds come back."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import ifcopenshell
import pytest

from cim.geometry.quiet import KernelOutput
from cim.geometry.tessellate import iter_meshes
from cim.workers import process_pool
from tests.conftest import fixture_path

CIM = str(Path(sys.executable).with_name("cim"))
CHATTER = ("point3", "edge [ ]", "matrix4", "local z:")  # what IfcOpenShell prints for these shapes


def _chatter(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(word in line for word in CHATTER)]


def _mesh_count(path: str) -> int:
    return len(list(iter_meshes(ifcopenshell.open(path))))


def test_cim_ingest_prints_no_geometry_kernel_chatter(tmp_path):
    model = tmp_path / "swept.ifc"
    model.write_bytes(fixture_path("ifc4x3/sectioned-solid-horizontal.ifc").read_bytes())  # prints 47 lines
    (tmp_path / "cim.toml").write_text('[city]\ncrs = "EPSG:4549"\n[models."swept.ifc"]\n'
                                       "placement = {eastings = 500000.0, northings = 2800000.0}\n")
    done = subprocess.run([CIM, "ingest", "--store", "store", "--no-checks", "swept.ifc"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert "swept.ifc" in done.stdout  # it ran (whatever the outcome of this model)
    assert _chatter(done.stdout + done.stderr) == []


def test_the_kernel_output_goes_to_the_debug_log_once(capfd, caplog):
    path = str(fixture_path("ifc4x3/sectioned-solid-horizontal.ifc"))
    with caplog.at_level(logging.DEBUG, logger="cim.geometry"):
        assert _mesh_count(path) > 0
    out, err = capfd.readouterr()
    assert _chatter(out + err) == []
    records = [r for r in caplog.records if "geometry kernel output" in r.getMessage()]
    assert len(records) == 1 and "point3" in records[0].getMessage()


def test_workers_print_no_kernel_chatter(capfd):
    path = str(fixture_path("ifc4x3/sectioned-solid-horizontal.ifc"))
    with process_pool(2) as pool:
        counts = list(pool.map(_mesh_count, [path, path]))
    assert counts[0] > 0 and counts[0] == counts[1]
    out, err = capfd.readouterr()
    assert _chatter(out + err) == []


def test_fds_come_back_after_an_exception_and_after_windows_in_several_threads(capfd):
    with pytest.raises(RuntimeError), KernelOutput("a failing call") as kernel, kernel.quiet():
        os.write(1, b"caught\n")
        raise RuntimeError("kernel failed")
    barrier = threading.Barrier(4)

    def overlapping_windows() -> None:
        with KernelOutput("a thread") as kernel:
            for i in range(50):
                with kernel.quiet():
                    if i == 0:
                        barrier.wait(timeout=30)  # all four windows open at once
                    os.write(2, b"caught too\n")

    threads = [threading.Thread(target=overlapping_windows) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.write(1, b"to the console\n")
    os.write(2, b"errors to the console\n")
    out, err = capfd.readouterr()
    assert (out, err) == ("to the console\n", "errors to the console\n")


def test_a_process_forked_during_a_window_writes_to_the_real_console(capfd):
    with KernelOutput("meshing") as kernel, kernel.quiet():
        pid = os.fork()
        if pid == 0:
            os.write(1, b"from the child\n")
            os._exit(0)
        os.waitpid(pid, 0)
    assert capfd.readouterr().out == "from the child\n"
