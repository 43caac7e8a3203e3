"""Where a store may live: a folder. Object-store URIs (s3://, gs://, az://...) are refused with one line.

The store's commit protocol needs more than Delta's per-table atomicity: a journal beside the tables, an
exclusive writer lock (``fcntl`` on ``_cim/write.lock``) and folder renames for GIS layers, all of which
assume a filesystem. On an object store each would need its own counterpart (a lock object taken with a
conditional put, the journal as an object, layer versions without renames); until then a store URI is
refused before anything is written, instead of a store that half works. See docs/scaling.md.
"""

from __future__ import annotations

import re
from pathlib import Path

from cim.errors import StoreError

# "s3://bucket/city"; a typer Path option turns it into "s3:/bucket/city" (the double slash collapses)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{1,15}:/")


def is_object_store(location: str | Path) -> bool:
    return bool(_URI.match(str(location)))


def require_folder(location: str | Path) -> None:
    """Raise StoreError for an object-store URI; a folder (local or on a shared filesystem) passes."""
    if is_object_store(location):
        uri = re.sub(r"^([^:/]+):/(?!/)", r"\1://", str(location))  # as the user typed it
        scheme = uri.split(":", 1)[0]
        raise StoreError(uri, f"a store at an object-store URI ({scheme}://) is not supported yet",
                         "put the store in a folder every worker mounts (NFS, CephFS, a cloud file share) and "
                         "pass that folder; see docs/scaling.md")
