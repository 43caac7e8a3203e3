"""cim: a city information model built from IFC and GIS into Delta Lake tables."""

import contextlib
import os
import sys

__version__ = "0.1.0"


def _no_hugepage_advice() -> None:
    """Ask numpy not to advise huge pages for its large arrays, unless the user chose (NUMPY_MADVISE_HUGEPAGE).

    Why: with transparent huge pages set to ``madvise`` (the common default), every large array numpy allocates
    is faulted in 2 MB pages the kernel may first compact memory for, and cim allocates many short-lived arrays
    of a file's size (its line index, reference scan, meshes). Measured on the 2-core VM the benchmarks run on
    (``docs/scaling.md``): a revision's scan of a 20 MB model's lines took 134-297 ms on its first calls with the
    advice and 42-56 ms without; a cold 50,000-element clash revision 2.29-2.68 s against 2.17-2.47 s. The
    environment variable also reaches the processes cim starts; numpy already imported (Prefect imports it
    before a flow imports cim) is switched by the same function numpy's import calls for the variable.
    """
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return
    os.environ["NUMPY_MADVISE_HUGEPAGE"] = "0"
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        with contextlib.suppress(AttributeError):  # a numpy without the switch keeps its default
            numpy._core.multiarray._set_madvise_hugepage(False)


_no_hugepage_advice()
