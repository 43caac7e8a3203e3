"""Atomic export writes: GDAL writes into a temp folder beside the target, then files are renamed into place.

A failure (a full disk, a bad table, Ctrl-C) leaves the previous export as it was and no half-written file;
the temp folder is always removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cim.errors import CimError, TransientIOError

SHARED_MODE = 0o644


@contextlib.contextmanager
def staged_file(target: Path, what: str) -> Iterator[Path]:
    """A path to write ``target``'s content to; renamed onto ``target`` when the block succeeds."""
    with staged_folder(target.parent, what) as tmp:
        yield tmp / target.name
    # staged_folder moved it


@contextlib.contextmanager
def staged_folder(folder: Path, what: str) -> Iterator[Path]:
    """A temp folder inside ``folder``; every file written into it is renamed into ``folder`` on success."""
    tmp: Path | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".cim-export-", dir=folder))
        yield tmp
        for path in sorted(tmp.iterdir()):
            if path.is_dir():  # a partitioned dataset: the previous one is moved aside, then removed
                _replace_folder(path, folder / path.name, tmp)
                continue
            os.chmod(path, SHARED_MODE)
            os.replace(path, folder / path.name)
    except CimError:
        raise
    except OSError as exc:
        raise TransientIOError(folder, f"could not write the {what}: {exc.strerror or exc}",
                               "check that the folder is writable and has space, then retry") from exc
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _replace_folder(new: Path, target: Path, tmp: Path) -> None:
    old = tmp / f".previous-{new.name}"
    if target.is_dir():
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)
