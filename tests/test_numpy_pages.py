"""cim asks numpy not to advise huge pages for its large arrays (a revision's scans ran 3-5x slower on their first
calls with the advice), unless the user has chosen with NUMPY_MADVISE_HUGEPAGE."""

from __future__ import annotations

import os
import subprocess
import sys

_PROBE = ("import numpy, numpy._core.multiarray as m; import cim; import subprocess, sys; "
          "child = subprocess.run([sys.executable, '-c', 'import numpy._core.multiarray as m; "
          "print(m._get_madvise_hugepage())'], capture_output=True, text=True).stdout.strip(); "
          "print(m._get_madvise_hugepage(), child)")


def _probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env={**clean, **env},
                          check=True, timeout=120)
    return done.stdout.strip()


def test_importing_cim_after_numpy_turns_the_huge_page_advice_off_here_and_in_the_processes_it_starts():
    assert _probe() == "False False"


def test_a_user_who_set_numpy_madvise_hugepage_keeps_their_choice():
    assert _probe(NUMPY_MADVISE_HUGEPAGE="1") == "True True"
