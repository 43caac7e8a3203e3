"""A cim program ends with the status its command chose, even when a native library's teardown would abort it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# A program whose interpreter teardown aborts the way Arrow's thread pools do (SIGABRT after the work is done):
# a module global whose finaliser raises SIGABRT when __main__ is torn down.
PROGRAM = textwrap.dedent("""
    import atexit, os, signal, sys, threading, time
    from pathlib import Path

    out = Path(sys.argv[1])

    class AbortsAtTeardown:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGABRT)

    NATIVE_POOL = AbortsAtTeardown()

    def main():
        atexit.register(lambda: (out / "atexit").write_text("ran"))

        def late():
            time.sleep(0.3)
            (out / "thread").write_text("joined")

        threading.Thread(target=late).start()
        print("last line, no newline", end="")
        how = sys.argv[2]
        if how == "exit3":
            sys.exit(3)
        if how == "message":
            sys.exit("error: the store is locked; wait for the other writer")
        if how == "raise":
            raise ValueError("a bug")

    if sys.argv[3] == "guarded":
        from cim.process_exit import run
        run(main)
    else:
        main()
""")


def end(tmp_path: Path, how: str, guarded: bool = True) -> subprocess.CompletedProcess:
    script = tmp_path / "program.py"
    script.write_text(PROGRAM)
    return subprocess.run([sys.executable, str(script), str(tmp_path), how, "guarded" if guarded else "bare"],
                          capture_output=True, text=True, timeout=60, cwd=REPO)


def test_without_the_guard_the_simulated_teardown_aborts_the_process(tmp_path):
    done = end(tmp_path, "return", guarded=False)
    assert done.returncode == -6
    assert done.stdout == "last line, no newline"


@pytest.mark.parametrize(("how", "status"), [("return", 0), ("exit3", 3), ("message", 1), ("raise", 1)])
def test_a_guarded_program_ends_with_the_status_it_chose_despite_the_teardown(tmp_path, how, status):
    done = end(tmp_path, how)
    assert done.returncode == status, done.stderr


def test_a_guarded_program_still_joins_threads_runs_atexit_and_flushes_its_output(tmp_path):
    done = end(tmp_path, "return")
    assert done.stdout == "last line, no newline"
    assert (tmp_path / "thread").read_text() == "joined"
    assert (tmp_path / "atexit").read_text() == "ran"


def test_a_guarded_program_reports_its_exit_message_and_traceback_on_stderr(tmp_path):
    assert "the store is locked" in end(tmp_path, "message").stderr
    assert "ValueError: a bug" in end(tmp_path, "raise").stderr


def test_the_cim_program_keeps_its_exit_statuses():
    cim = Path(sys.executable).parent / "cim"
    ok = subprocess.run([str(cim), "--help"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "query" in ok.stdout
    bad = subprocess.run([str(cim), "query", "SELECT 1", "--store", "/nonexistent/store"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.strip()
