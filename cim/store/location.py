"""Where a store may live: a folder, or an S3 bucket (``s3://bucket/city``); other object stores are refused.

The store's commit protocol needs a journal beside the tables, one writer at a time and a way to remove a
table folder of an uncommitted write. On a folder those are files, ``fcntl`` and ``shutil``; on S3 they are
objects, a lock object created with a conditional PUT, and deletes under a prefix (``cim.store.objects``,
``cim.store.objlock``). Google Cloud Storage and Azure would need the same counterparts tested against their
servers; until then their URIs are refused before anything is written, instead of a store that half works.
Commands that still need a local folder (the nightly flow, which writes reports and Prefect state beside the
store) refuse an ``s3://`` store with :func:`require_folder`. See docs/scaling.md.
"""

from __future__ import annotations

import re
from pathlib import Path

from cim.errors import StoreError

# "s3://bucket/city"; a typer Path option turns it into "s3:/bucket/city" (the double slash collapses)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{1,15}:/")
SUPPORTED = ("s3",)
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")  # Delta Lake reads a table path as a URI: '%41' in a folder name is 'A'


def is_object_store(location: str | Path) -> bool:
    return bool(_URI.match(str(location)))


def as_uri(location: str | Path) -> str:
    """The URI as the user typed it ("s3://bucket/city"), also when a Path collapsed its double slash."""
    return re.sub(r"^([^:/]+):/(?!/)", r"\1://", str(location))


def require_supported(location: str | Path) -> str:
    """The URI of an object-store location cim can use (s3://); StoreError in one line for any other scheme."""
    uri = as_uri(location)
    scheme = uri.split(":", 1)[0].lower()
    if scheme not in SUPPORTED:
        raise StoreError(uri, f"a store at an object-store URI ({scheme}://) is not supported yet",
                         "use s3://BUCKET/FOLDER (any S3-compatible server, via AWS_ENDPOINT_URL), or a folder every "
                         "worker mounts; see docs/scaling.md")
    return uri


def require_folder(location: str | Path, what: str = "this command") -> None:
    """Raise StoreError for an object-store URI where ``what`` needs a folder; a folder passes."""
    if is_object_store(location):
        uri = as_uri(location)
        scheme = uri.split(":", 1)[0]
        raise StoreError(uri, f"{what} needs a store in a folder, not at an object-store URI ({scheme}://)",
                         "run `cim ingest` / `cim query` against the s3:// store, or pass a folder every worker "
                         "mounts; see docs/scaling.md")


def store_root(location: str | Path):
    """The root a Store works on: a ``Path`` for a folder, a ``cim.store.objects.ObjectPath`` for s3://.

    An object-store root is checked on the way (its bucket listed once), so a missing bucket, a wrong endpoint
    or refused credentials are one line before anything is written.
    """
    if not is_object_store(location):
        path = Path(location)
        if escape := _ESCAPE.search(str(path.absolute())):
            raise StoreError(path, f"a store folder whose path holds {escape.group()!r} cannot be used: Delta Lake "
                             "reads a '%' and two hex digits in a path as an escaped character",
                             "choose a store folder whose path has no '%' followed by two hex digits")
        return path
    from cim.store.objects import open_root

    return open_root(require_supported(location))
