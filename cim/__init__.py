"""cim: a city information model built from IFC and GIS into Delta Lake tables."""

import contextlib
import os
import sys

__version__ = "0.1.0"

# Transparent huge pages asked for by the allocators cim's arrays come from; each set to 0 unless the user chose.
_HUGE_PAGE_SWITCHES = ("NUMPY_MADVISE_HUGEPAGE", "MIMALLOC_ALLOW_THP")


def _no_huge_page_advice() -> None:
    """Ask numpy and Arrow's allocator (mimalloc) not to advise huge pages for their memory.

    Why: with transparent huge pages set to ``madvise`` (the common default), memory advised so is faulted in
    2 MB pages the kernel may first compact memory for, and cim allocates many short-lived arrays of a file's
    size (its line index, reference scan, meshes). Measured on the 2-core VM the benchmarks run on
    (``docs/scaling.md``): a revision's scan of a 20 MB model's lines took 134-297 ms on its first calls with
    numpy's advice and 42-56 ms without. Arrow's pool in cim is jemalloc (``cim.arrow_memory``), but Arrow still
    takes some memory from mimalloc (the C data interface's exports that deltalake reads tables through), whose
    first allocation reserves a 1 GiB arena advised for huge pages: reading a 50,000-element model's meshes from
    the store in a fresh process took 0.21-1.25 s with that advice (three runs of twelve over 0.8 s) and
    0.22-0.24 s without.

    The variables reach the processes cim starts (workers, Dask workers of a LocalCluster). numpy already
    imported (Prefect imports it before a flow imports cim) is switched by the function numpy's import calls
    for its variable; mimalloc reads its variable once, when pyarrow's library is loaded, so a program that
    loaded pyarrow before cim keeps mimalloc's default.
    """
    chosen = {name for name in _HUGE_PAGE_SWITCHES if name in os.environ}
    for name in _HUGE_PAGE_SWITCHES:
        os.environ.setdefault(name, "0")
    numpy = sys.modules.get("numpy")
    if numpy is not None and "NUMPY_MADVISE_HUGEPAGE" not in chosen:
        with contextlib.suppress(AttributeError):  # a numpy without the switch keeps its default
            numpy._core.multiarray._set_madvise_hugepage(False)


_no_huge_page_advice()
