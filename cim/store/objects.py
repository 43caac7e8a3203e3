"""A store on an object store (``s3://bucket/city``): the store's own files as objects, errors as one line.

The store keeps a few files of its own beside its Delta tables (``_cim/store.json``, the roll-back journal, the
writer lock) and removes whole table folders when it rolls a new table back. On a local folder those are plain
files; on S3 they are objects. :class:`ObjectPath` gives an object key the few ``pathlib.Path`` methods the
store uses (``/``, ``exists``, ``read_text``, ``unlink``, ``resolve``...), so the store's commit protocol is one
piece of code for both: only writing a JSON file (one PUT, atomic on S3, instead of write + rename), removing a
folder (delete every object under the prefix) and the writer lock (``cim.store.objlock``) differ.

Objects are read and written with obstore, the Python binding of the Rust ``object_store`` crate delta-rs uses:
it takes the same ``AWS_*`` options and, unlike pyarrow's S3FileSystem, sends the conditional PUTs
(``If-None-Match: *``, ``If-Match``) the writer lock is built on. Where the store lives and how to reach it come
from the standard ``AWS_*`` environment variables (:func:`storage_options`), handed to deltalake as its
``storage_options`` and to obstore as its config, so both talk to the same endpoint with the same credentials.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from functools import cache
from pathlib import PurePosixPath
from typing import Any

from cim.errors import StoreError

SCHEMES = ("s3",)  # object stores a store may live on (gs://, az://... are refused in cim.store.location)
# The AWS_* variables handed to deltalake (as storage_options) and obstore, in the names both understand.
# AWS_REGION after AWS_DEFAULT_REGION: when both are set, AWS_REGION wins (as in the AWS tools).
OPTION_ENV = ("AWS_ENDPOINT_URL", "AWS_ALLOW_HTTP", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
              "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION")
_OBSTORE_KEYS = {"AWS_ENDPOINT_URL": "aws_endpoint", "AWS_ACCESS_KEY_ID": "aws_access_key_id",
                 "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key", "AWS_SESSION_TOKEN": "aws_session_token",
                 "AWS_DEFAULT_REGION": "aws_region", "AWS_REGION": "aws_region"}
_URI = re.compile(r"^(?P<scheme>[a-z0-9]+)://(?P<bucket>[^/]+)/?(?P<prefix>.*)$")


def storage_options(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The object-store options from the environment: the standard ``AWS_*`` variables that are set."""
    env = os.environ if environ is None else environ
    return {key: env[key] for key in OPTION_ENV if env.get(key)}


def split_uri(uri: str) -> tuple[str, str, str]:
    """(scheme, bucket, key prefix without slashes at the ends) of ``s3://bucket/city``."""
    match = _URI.match(uri)
    if not match or not match["bucket"]:
        raise StoreError(uri, "not an object-store URI of the form s3://bucket/folder", "pass --store s3://BUCKET/CITY")
    return match["scheme"], match["bucket"], match["prefix"].strip("/")


class Bucket:
    """One bucket reached with one set of options: the obstore client, and the same options for deltalake."""

    def __init__(self, scheme: str, name: str, options: dict[str, str]):
        from obstore.store import S3Store

        self.scheme, self.name, self.options = scheme, name, dict(options)
        config = {_OBSTORE_KEYS[k]: v for k, v in options.items() if k in _OBSTORE_KEYS}
        client = {"connect_timeout": timedelta(seconds=10), "timeout": timedelta(seconds=120)}
        if options.get("AWS_ALLOW_HTTP", "").lower() in ("1", "true", "yes"):
            client["allow_http"] = True
        # Few retries: a wrong endpoint or a dead server is one line within seconds, not three minutes of retrying.
        retry = {"max_retries": 2, "retry_timeout": timedelta(seconds=20)}
        try:
            self.client = S3Store(name, config=config, client_options=client, retry_config=retry)
        except Exception as exc:  # obstore's GenericError: e.g. a key id without its secret
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StoreError(f"{scheme}://{name}", f"cannot set up the S3 client: {first}",
                             "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or neither, to use the "
                             "machine's role), and AWS_REGION") from exc

    @property
    def endpoint(self) -> str:
        return self.options.get("AWS_ENDPOINT_URL", "AWS S3")

    def uri(self, key: str) -> str:
        return f"{self.scheme}://{self.name}/{key}".rstrip("/")

    def fail(self, exc: BaseException, key: str, doing: str) -> StoreError:
        """An obstore error as one line naming the object, the reason and the fix."""
        return object_error(exc, self, key, doing)


@cache
def _bucket(scheme: str, name: str, options: tuple[tuple[str, str], ...]) -> Bucket:
    return Bucket(scheme, name, dict(options))


def open_root(uri: str, options: dict[str, str] | None = None) -> ObjectPath:
    """The store root at ``uri``; its bucket is checked (one listing) so a bad bucket is one line up front."""
    scheme, bucket, prefix = split_uri(uri)
    opts = storage_options() if options is None else options
    root = ObjectPath(_bucket(scheme, bucket, tuple(sorted(opts.items()))), prefix)
    root.check_bucket()
    return root


class ObjectPath:
    """An object key (or key prefix, for a folder) in a bucket, with the ``Path`` methods the store uses.

    Not ``os.PathLike`` on purpose: nothing may take it for a local path and create an ``s3:`` folder.
    """

    def __init__(self, bucket: Bucket, key: str):
        self.bucket, self.key = bucket, key.strip("/")

    # ---- names ----------------------------------------------------------------------------------
    def __truediv__(self, other: str | os.PathLike) -> ObjectPath:
        rel = PurePosixPath(os.fspath(other)).as_posix().strip("/")
        return ObjectPath(self.bucket, f"{self.key}/{rel}" if self.key else rel)

    def __str__(self) -> str:
        return self.bucket.uri(self.key)

    def __repr__(self) -> str:
        return f"ObjectPath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectPath) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name

    @property
    def parent(self) -> ObjectPath:
        return ObjectPath(self.bucket, self.key.rsplit("/", 1)[0] if "/" in self.key else "")

    @property
    def parents(self) -> list[ObjectPath]:
        out, path = [], self
        while path.key:
            path = path.parent
            out.append(path)
        return out

    def with_suffix(self, suffix: str) -> ObjectPath:
        return ObjectPath(self.bucket, str(PurePosixPath(self.key).with_suffix(suffix)))

    def resolve(self) -> ObjectPath:
        return self  # keys have no symbolic links and no "..": the store only ever joins checked names

    def is_symlink(self) -> bool:
        return False

    def is_relative_to(self, other: ObjectPath) -> bool:
        return self == other or other in self.parents

    @property
    def delta_options(self) -> dict[str, str]:
        return self.bucket.options

    # ---- objects --------------------------------------------------------------------------------
    def _call(self, doing: str, fn, *args, **kwargs) -> Any:
        try:
            return fn(self.bucket.client, *args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:  # obstore raises its own classes and OSError subclasses
            raise self.bucket.fail(exc, self.key, doing) from exc

    def is_file(self) -> bool:
        import obstore

        try:
            obstore.head(self.bucket.client, self.key)
        except FileNotFoundError as exc:
            if "NoSuchBucket" in str(exc):
                raise self.bucket.fail(exc, self.key, "read") from exc
            return False
        except Exception as exc:
            raise self.bucket.fail(exc, self.key, "read") from exc
        return True

    def is_dir(self) -> bool:
        return bool(self._list(limit=1))

    def exists(self) -> bool:
        return self.is_file() or self.is_dir()

    def _list(self, limit: int | None = None) -> list[str]:
        import obstore

        keys: list[str] = []
        stream = self._call("list", obstore.list, prefix=f"{self.key}/" if self.key else None, chunk_size=limit or 1000)
        try:
            for chunk in stream:
                keys.extend(item["path"] for item in chunk)
                if limit and len(keys) >= limit:
                    break
        except Exception as exc:
            raise self.bucket.fail(exc, self.key, "list") from exc
        return keys

    def check_bucket(self) -> None:
        """One listing: a missing bucket, a wrong endpoint or refused credentials fail here, naming the fix."""
        self._list(limit=1)

    def read_bytes(self) -> bytes:
        import obstore

        return bytes(self._call("read", obstore.get, self.key).bytes())

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes, mode: str | dict = "overwrite") -> dict:
        """One PUT: on S3 the object is replaced whole or not at all (the write-then-rename of a local file)."""
        import obstore

        return self._call("write", obstore.put, self.key, data, mode=mode)

    def unlink(self, missing_ok: bool = False) -> None:
        import obstore

        self._call("delete", obstore.delete, self.key)  # S3 deletes of a missing key succeed too

    def remove_tree(self) -> None:
        """Delete every object under this prefix (a table folder of an uncommitted write)."""
        import obstore

        keys = self._list()
        for start in range(0, len(keys), 1000):
            self._call("delete", obstore.delete, keys[start:start + 1000])

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: an object store has no folders."""


def object_error(exc: BaseException, bucket: Bucket, key: str, doing: str) -> StoreError:
    """One line for an object-store failure: a missing bucket, refused credentials or an unreachable endpoint."""
    text = str(exc)
    uri = bucket.uri(key)
    first = text.splitlines()[0] if text else type(exc).__name__
    if "NoSuchBucket" in text:
        return StoreError(f"{bucket.scheme}://{bucket.name}", f"bucket {bucket.name!r} does not exist at "
                          f"{bucket.endpoint}", f"create the bucket (aws s3 mb {bucket.scheme}://{bucket.name}), "
                          "or fix the bucket name in --store / the endpoint in AWS_ENDPOINT_URL")
    if "403" in text or "AccessDenied" in text or type(exc).__name__ == "PermissionDeniedError":
        verbs = {"write": "s3:PutObject", "delete": "s3:DeleteObject", "list": "s3:ListBucket"}
        verb = verbs.get(doing, "s3:GetObject")
        return StoreError(uri, f"the object store refused to {doing} (403 Forbidden)",
                          f"use credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and a bucket policy that allow "
                          f"{verb} on {bucket.scheme}://{bucket.name}; nothing was changed by this refused write"
                          if doing == "write" else f"use credentials and a bucket policy that allow {verb} on "
                          f"{bucket.scheme}://{bucket.name}")
    if any(word in text for word in ("connect", "Connection", "dns error", "timed out", "retries")):
        cause = next((w for w in ("Connection refused", "dns error", "timed out") if w in text), "no answer")
        return StoreError(uri, f"cannot reach the object store at {bucket.endpoint} ({cause}, after retries)",
                          "check AWS_ENDPOINT_URL (and AWS_ALLOW_HTTP=true for an http:// endpoint) and that the "
                          "server is running")
    return StoreError(uri, f"object store error while trying to {doing}: {first[:200]}",
                      "check the store URI, AWS_ENDPOINT_URL and the credentials")


def delta_options(path: object) -> dict[str, str] | None:
    """deltalake's ``storage_options`` for a table at ``path``: the bucket's options, or None for a local folder."""
    return path.delta_options if isinstance(path, ObjectPath) else None


def is_table(path: object) -> bool:
    """``DeltaTable.is_deltatable`` for a local folder or an object-store prefix."""
    from deltalake import DeltaTable

    return DeltaTable.is_deltatable(str(path), storage_options=delta_options(path))


def open_table(path: object, version: int | None = None):
    """The ``deltalake.DeltaTable`` at a local folder or an object-store prefix."""
    from deltalake import DeltaTable

    return DeltaTable(str(path), version=version, storage_options=delta_options(path))


def arrow_dataset(table, path: object):
    """``table.to_pyarrow_dataset()``; for a local folder read through Arrow's own file system.

    Why: deltalake's default is a Python file system (``PyFileSystem`` over its storage handler), so Arrow's I/O
    threads enter Python for every read, creating a thread state under the interpreter's thread-list lock; a fork
    in that instant (a file's child process, ``cim.isolated``) left the child waiting forever for that lock (on
    Python 3.11 the child takes it before resetting it). Local Parquet files need no Python at all."""
    if isinstance(path, ObjectPath):
        return table.to_pyarrow_dataset()
    import pyarrow.fs as pa_fs

    return table.to_pyarrow_dataset(filesystem=pa_fs.SubTreeFileSystem(str(path), pa_fs.LocalFileSystem()))


def write_table(path: object, data, **kwargs) -> None:
    """``write_deltalake`` to a local folder or an object-store prefix."""
    from deltalake import write_deltalake

    kwargs.setdefault("writer_properties", writer_properties(path))
    write_deltalake(str(path), data, storage_options=delta_options(path), **kwargs)


def writer_properties(path: object, max_row_group_size: int | None = None):
    """The Parquet settings of the table at ``path``: deltalake's own, except for ``meshes``, and rows per row
    group bounded when ``max_row_group_size`` is given (a compaction: ``cim.store.compact``, in zstd as
    deltalake's compaction writes by default).

    A mesh row is a geometry payload: vertex coordinates and unique hashes, which Parquet's dictionary
    encoding only bloats (its vertex column is 3.3 MB with a dictionary, 1.0 MB without, on a 50,000-mesh
    model) and tries at every write before giving up. Without dictionaries and with zstd (level 1) a
    50,000-mesh version writes in 0.08 s instead of 0.17 s and takes 2.3 MB instead of 6.2 MB, and reads as
    fast. The attribute tables keep dictionaries: DuckDB groups and filters their strings 3-4x faster so."""
    meshes = str(path).rstrip("/").rsplit("/", 1)[-1] == "meshes"
    if not meshes and max_row_group_size is None:
        return None
    from deltalake import ColumnProperties, WriterProperties

    if not meshes:
        return WriterProperties(compression="ZSTD", max_row_group_size=max_row_group_size)
    return WriterProperties(compression="ZSTD", compression_level=1, max_row_group_size=max_row_group_size,
                            default_column_properties=ColumnProperties(dictionary_enabled=False))
