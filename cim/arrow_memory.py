"""Arrow's memory pool: jemalloc, which reuses the pages it freed, rather than pyarrow's default, mimalloc.

mimalloc hands freed pages back to the system within milliseconds, so each table read, converted or written
touches fresh pages again. On a virtual machine whose host takes back the pages its guest frees (a balloon
with free page reporting, as on this project's development machine) a fresh page costs tens of
microseconds: reading a 10,000-mesh table again took 6-236 ms with mimalloc against 6-9 ms with jemalloc,
and a revision of a 10,000-element model 0.89-1.48 s against 0.64-0.83 s (``bench/revision.py``, three runs
each way, alternating). Memory does not grow for it: jemalloc hands large blocks back when they are freed
(a process that freed 960 MB of arrays was back to 110 MB resident at once).

Set once per process when a module that builds tables is imported; a forked child keeps its parent's pool.
``CIM_ARROW_POOL=system|mimalloc|jemalloc`` picks another; a pool chosen through pyarrow's own
``ARROW_DEFAULT_MEMORY_POOL`` is kept unless ``CIM_ARROW_POOL`` is set too.
"""

from __future__ import annotations

import contextlib
import os

import pyarrow as pa

_POOLS = {"jemalloc": "jemalloc_memory_pool", "mimalloc": "mimalloc_memory_pool", "system": "system_memory_pool"}


def use_retaining_pool() -> str:
    """Make the chosen pool Arrow's default (jemalloc unless asked otherwise); returns its backend name.
    A pyarrow built without it keeps its default."""
    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ and "CIM_ARROW_POOL" not in os.environ:
        return pa.default_memory_pool().backend_name  # the user chose through pyarrow: theirs
    name = os.environ.get("CIM_ARROW_POOL", "jemalloc")
    # an unknown name, or a pool this build of pyarrow lacks: Arrow's default stays
    with contextlib.suppress(KeyError, NotImplementedError, AttributeError):
        pa.set_memory_pool(getattr(pa, _POOLS[name])())
    return pa.default_memory_pool().backend_name


use_retaining_pool()
