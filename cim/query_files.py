"""The store's Parquet files as the query sandbox reads them: through a file system that can only read them.

Why this and not the obvious alternatives:

- DuckDB's own local file system with ``allowed_paths``: a ``COPY ... TO '<allowed file>' (USE_TMP_FILE
  false)`` then overwrites that file, so a statement that got past ``cim.query_check`` could damage the
  store. The local file system stays disabled in the sandbox.
- deltalake's pyarrow dataset (what cim used before): ``pyarrow.dataset`` pulls in pandas, half a second
  of every `cim query` start on this class of machine.
- DuckDB's delta extension: loading it costs as much again as the whole query.

So deltalake (which replays the Delta log without pyarrow) names each table's current Parquet files, and
DuckDB reads them with ``read_parquet`` through :class:`ReadOnlyFiles`, an fsspec file system registered
on the connection under the ``cimstore://`` scheme. It opens exactly those files, for reading only; every
other operation is refused. External access stays off, with only those ``cimstore://`` paths allowed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from fsspec.spec import AbstractFileSystem

PROTOCOL = "cimstore"
PREFIX = f"{PROTOCOL}://"


class ReadOnlyFiles(AbstractFileSystem):
    """Read access to a fixed set of local files; writing, listing and anything else is refused."""

    protocol = PROTOCOL
    cachable = False

    def __init__(self, files: Iterable[str] = ()) -> None:
        super().__init__(skip_instance_cache=True)
        self._files: set[str] = set()
        self.allow(files)

    def allow(self, files: Iterable[str]) -> list[str]:
        """Let these local paths be read; returns their ``cimstore://`` names for DuckDB."""
        paths = [os.path.abspath(f) for f in files]
        self._files.update(paths)
        return [PREFIX + p for p in paths]

    @property
    def uris(self) -> list[str]:
        return sorted(PREFIX + p for p in self._files)

    @classmethod
    def _strip_protocol(cls, path) -> str:
        text = str(path)
        return text[len(PREFIX):] if text.startswith(PREFIX) else text

    def _allowed(self, path: str) -> str:
        local = os.path.abspath(self._strip_protocol(path))
        if local not in self._files:
            raise PermissionError(f"{path}: not one of the store's table files")
        return local

    def _open(self, path, mode="rb", block_size=None, autocommit=True, cache_options=None, **kwargs):
        if mode != "rb":
            raise PermissionError(f"{path}: the store is read-only in cim query")
        return open(self._allowed(path), "rb")  # noqa: SIM115 - DuckDB closes the handle

    def info(self, path, **kwargs) -> dict:
        local = self._allowed(path)
        return {"name": PREFIX + local, "size": os.path.getsize(local), "type": "file"}

    def glob(self, path, maxdepth=None, **kwargs) -> list[str]:
        """A pattern is only ever one of the files, named exactly: DuckDB globs every path it reads, and a
        store folder may hold glob characters ('[', '*', '?'), which must not make the file unfindable."""
        local = os.path.abspath(self._strip_protocol(path))
        return [local] if local in self._files else []

    def modified(self, path):
        from datetime import UTC, datetime

        return datetime.fromtimestamp(os.path.getmtime(self._allowed(path)), tz=UTC)

    def ls(self, path, detail=True, **kwargs):
        raise PermissionError(f"{path}: listing is not allowed in cim query")

    def _refuse(self, *args, **kwargs):
        raise PermissionError("the store is read-only in cim query")

    mkdir = makedirs = rmdir = rm = rm_file = _rm = mv = cp_file = copy = touch = _refuse
    pipe_file = put_file = get_file = put = get = link = symlink = _refuse


def local_files(table) -> list[str]:
    """The local paths of a deltalake.DeltaTable's current files: ``file_uris()`` gives them
    percent-encoded (a space as %20), sometimes as file:// URLs."""
    from urllib.parse import unquote, urlparse

    paths = []
    for uri in table.file_uris():
        paths.append(unquote(urlparse(uri).path) if uri.startswith("file://") else unquote(uri))
    return paths


def sql_string(text: str) -> str:
    """A DuckDB string literal (single quotes doubled; a plain literal has no other escapes).

    Used instead of a bound parameter on the query path because the first bound parameter makes DuckDB's
    Python binding import pandas (its type checks), which alone costs more than the whole query.
    """
    if "\x00" in text:
        raise ValueError("text with a NUL character cannot be a SQL string")
    return "'" + text.replace("'", "''") + "'"


def sql_list(items: Iterable[str]) -> str:
    """A DuckDB list literal of strings."""
    return "[" + ", ".join(sql_string(item) for item in items) + "]"
