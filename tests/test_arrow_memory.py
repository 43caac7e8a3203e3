"""Arrow's memory pool: jemalloc once cim builds tables (cim.arrow_memory), unless the user chose one."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pytest

PROBE = "import {module}, pyarrow as pa; print(pa.default_memory_pool().backend_name)"


def _backend(module: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("CIM_ARROW_POOL", "ARROW_DEFAULT_MEMORY_POOL")}
    done = subprocess.run([sys.executable, "-c", PROBE.format(module=module)], env={**clean, **env},
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip()


def _has_jemalloc() -> bool:
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        return False
    return True


@pytest.mark.skipif(not _has_jemalloc(), reason="this pyarrow is built without jemalloc")
def test_the_store_and_the_file_reader_make_jemalloc_arrows_pool():
    assert _backend("cim.store.delta") == "jemalloc"
    assert _backend("cim.ingest.ifc") == "jemalloc"


def test_cim_arrow_pool_picks_another_pool_and_an_unknown_name_keeps_arrows_default():
    assert _backend("cim.store.delta", CIM_ARROW_POOL="system") == "system"
    default = _backend("pyarrow")
    assert _backend("cim.store.delta", CIM_ARROW_POOL="no-such-pool") == default


def test_a_pool_chosen_through_pyarrows_own_variable_is_kept():
    assert _backend("cim.store.delta", ARROW_DEFAULT_MEMORY_POOL="system") == "system"
