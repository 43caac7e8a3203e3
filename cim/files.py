"""Writing output files so that readers never see half of one: a temp file beside it, then a rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from cim.errors import TransientIOError

SHARED_MODE = 0o644  # mkstemp makes 0600; reports and exports are meant to be shared


def write_atomic(path: str | Path, data: str | bytes | Callable[[BinaryIO], None], *, what: str = "file") -> Path:
    """Write ``data`` (text, bytes, or a function writing into the open binary file) to ``path`` atomically.

    The folder is created; an existing file keeps its permissions; a failed write leaves the old file as it was.
    """
    path = Path(path)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else SHARED_MODE)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise TransientIOError(path, f"could not write the {what}: {exc.strerror or exc}",
                               "check that the folder exists, is writable and has space, then retry") from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return path
