"""cim asks numpy and Arrow's allocator (mimalloc) not to advise transparent huge pages (a revision's scans and
reads ran up to five times slower on fresh memory so advised), unless the user has chosen with their variables."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

_SWITCHES = ("NUMPY_MADVISE_HUGEPAGE", "MIMALLOC_ALLOW_THP")
_PROBE = ("import os, numpy, numpy._core.multiarray as m; import cim; import subprocess, sys; "
          "child = subprocess.run([sys.executable, '-c', 'import os, numpy._core.multiarray as m; "
          "print(m._get_madvise_hugepage(), os.environ[\"MIMALLOC_ALLOW_THP\"])'], capture_output=True, "
          "text=True).stdout.strip(); print(m._get_madvise_hugepage(), os.environ['MIMALLOC_ALLOW_THP'], child)")


def _env(**chosen: str) -> dict[str, str]:
    """This environment without the user's huge-page switches, and with ``chosen`` ones."""
    return {**{k: v for k, v in os.environ.items() if k not in _SWITCHES}, **chosen}


def _run(code: str, **chosen: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(**chosen),
                          check=True, timeout=120)
    return done.stdout.strip()


def test_importing_cim_after_numpy_turns_the_huge_page_advice_off_here_and_in_the_processes_it_starts():
    assert _run(_PROBE) == "False 0 False 0"


def test_a_user_who_set_the_huge_page_variables_keeps_their_choice():
    assert _run(_PROBE, NUMPY_MADVISE_HUGEPAGE="1", MIMALLOC_ALLOW_THP="1") == "True 1 True 1"


def _can_trace() -> bool:
    if shutil.which("strace") is None:
        return False
    return subprocess.run(["strace", "-o", os.devnull, "true"], capture_output=True, timeout=60).returncode == 0


@pytest.mark.skipif(not _can_trace(), reason="strace is not installed or may not trace here")
def test_arrow_reading_a_table_after_cim_is_imported_advises_no_huge_pages(tmp_path: Path):
    code = ("import sys; import cim; import pyarrow as pa, pyarrow.parquet as pq; "
            "pq.write_table(pa.table({'x': list(range(2_000_000))}), sys.argv[1]); pq.read_table(sys.argv[1])")
    trace = tmp_path / "trace.txt"
    for env, advised in (({}, False), ({"MIMALLOC_ALLOW_THP": "1"}, True)):
        subprocess.run(["strace", "-f", "-e", "trace=madvise", "-o", str(trace), sys.executable, "-c", code,
                        str(tmp_path / "t.parquet")], check=True, timeout=120, env=_env(**env), capture_output=True)
        assert ("MADV_HUGEPAGE" in trace.read_text()) is advised, env
