"""Each IFC file is parsed in a child process: memory stays flat over many files and a kernel crash ends one file."""

from __future__ import annotations

import faulthandler
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cim.config import default_config
from cim.errors import InputError
from cim.ingest.run import ingest_file
from cim.isolated import ChildDied, call_in_child
from cim.store import Store
from tests.models import add_wall, new_model, write

REPO = Path(__file__).resolve().parents[1]
CRS = "EPSG:4549"


def small_model(path: Path) -> Path:
    f, ctx = new_model()
    add_wall(f, ctx, name="W1")
    return write(f, path)


def _raise_input_error(path):
    raise InputError(path, "no IfcProject", "export it with its project", stage="schema")


def _crash(*args, **kwargs):
    faulthandler.disable()  # pytest's dump of the "crashed" child would only clutter the log
    os.kill(os.getpid(), signal.SIGSEGV)


def _killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


def _count(n: int, *, progress):
    for _ in range(n):
        progress(1)
    return "counted"


def test_the_childs_result_and_its_progress_come_back_to_the_caller():
    seen = []
    assert call_in_child(_count, 5, path="m.ifc", progress=seen.append) == "counted"
    assert seen == [1] * 5


def test_an_input_error_in_the_child_is_raised_here_with_its_stage_and_hint():
    with pytest.raises(InputError) as caught:
        call_in_child(_raise_input_error, "m.ifc", path="m.ifc")
    assert caught.value.stage == "schema" and "export it with its project" in caught.value.one_line()


def test_a_crash_in_the_child_is_one_error_naming_the_signal_and_the_file():
    with pytest.raises(ChildDied) as caught:
        call_in_child(_crash, path="bad.ifc")
    assert caught.value.stage == "crash"
    assert caught.value.one_line().startswith("bad.ifc: a library crashed reading the file (SIGSEGV)")


def test_a_file_whose_parse_crashes_is_quarantined_and_the_next_file_is_stored(tmp_path, monkeypatch):
    store = Store(tmp_path / "s", CRS)
    cfg = default_config(CRS, "plan")
    bad, good = small_model(tmp_path / "bad.ifc"), small_model(tmp_path / "good.ifc")
    import cim.ingest.run as run

    real = run.prepare_ifc
    monkeypatch.setattr(run, "prepare_ifc", lambda path, *a, **k: _crash() if Path(path).name == "bad.ifc"
                        else real(path, *a, **k))
    crashed = ingest_file(store, cfg, bad)
    stored = ingest_file(store, cfg, good)
    assert crashed.action == "quarantined" and crashed.stage == "crash" and "SIGSEGV" in crashed.message
    assert stored.action == "ingested"
    errors = store.read("ingest_errors").to_pylist()
    assert [(e["stage"], Path(e["source_path"]).name) for e in errors] == [("crash", "bad.ifc")]
    assert store.read("models", columns=["model_id"])["model_id"].to_pylist() == ["good"]


def test_a_file_whose_child_was_killed_is_tried_again_on_the_next_run(tmp_path, monkeypatch):
    store = Store(tmp_path / "s", CRS)
    cfg = default_config(CRS, "plan")
    path = small_model(tmp_path / "m.ifc")
    import cim.ingest.run as run

    with monkeypatch.context() as patch:
        patch.setattr(run, "prepare_ifc", _killed)
        first = ingest_file(store, cfg, path)
    assert first.action == "quarantined" and first.stage == "killed" and "lack of memory" in first.message
    assert ingest_file(store, cfg, path).action == "ingested"  # not "still quarantined": same file, next run


def test_a_process_ingesting_many_models_does_not_grow_by_each_parse(tmp_path):
    """IfcOpenShell never frees a parsed file; only the child that parsed it does, by ending."""
    from bench.genmodel import generate

    generate(tmp_path / "m.ifc", 3000)
    script = textwrap.dedent(f"""
        import gc, resource, sys
        from pathlib import Path
        import psutil
        from cim.config import default_config
        from cim.ingest.run import ingest_file
        from cim.store import Store
        store = Store(Path({str(tmp_path / 's')!r}), {CRS!r})
        cfg = default_config({CRS!r}, "plan")
        rss = []
        for i in range(6):
            outcome = ingest_file(store, cfg, Path({str(tmp_path / 'm.ifc')!r}), force=True)
            assert outcome.action == "ingested", outcome.message
            gc.collect()
            rss.append(psutil.Process().memory_info().rss / 2**20)
        print(rss[1], rss[-1])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    after_two, after_six = map(float, done.stdout.split())
    assert after_six - after_two < 25, f"grew {after_six - after_two:.0f} MB over 4 ingests"
