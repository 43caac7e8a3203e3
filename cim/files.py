"""Writing output files safely: never half a file, never outside its folder, never a live spreadsheet formula.

- :func:`write_atomic`: a temp file beside the target, then a rename, so readers never see half of one.
- :func:`safe_child`: the one way to build an output file name from a model id or layer name.
- :func:`csv_text` / :func:`append_row`: text that a spreadsheet would run as a formula stays text.
"""

from __future__ import annotations

import os
import tempfile
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from cim.errors import CimError, TransientIOError

SHARED_MODE = 0o644  # mkstemp makes 0600; reports and exports are meant to be shared
# A text cell starting with one of these is read as a formula by Excel, LibreOffice or Google Sheets
# (OWASP "CSV Injection"): =cmd|' /C calc'!A0, +, -, @, and a leading tab or carriage return.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class OutputPathError(CimError):
    """An output file name built from data (a model id, a layer name) would not stay in its folder."""

    stage = "output"


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be one file name inside a folder (None when it can)."""
    if not isinstance(name, str) or not name.strip():
        return "is empty"
    if "/" in name or "\\" in name:
        return "contains a path separator (/ or \\)"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        return "contains a control character"
    if name.strip() in (".", ".."):
        return "is not a file name"
    return None


def safe_child(folder: str | Path, name: str, *, what: str = "file name") -> Path:
    """``folder / name``, refusing any ``name`` that would leave ``folder`` or is no single file name.

    Every export and report whose name comes from data (model ids from cim.toml, layer and table names)
    is built here, so a model_id of ``../../etc/x`` cannot write outside the export folder.
    """
    folder = Path(folder)
    problem = name_problem(name)
    target = folder / name if problem is None else None
    if target is not None and target.resolve().parent != folder.resolve():
        problem = "leaves the folder"
    if problem:
        raise OutputPathError(folder, f"{what} {name!r} {problem}",
                              "rename it (letters, digits, '-', '_' and '.'), e.g. model_id in cim.toml")
    return target


def csv_text(value):
    """Text a spreadsheet would run as a formula gets a leading apostrophe (OWASP); other values as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def append_row(sheet, values: Iterable) -> None:
    """Append a row to an openpyxl sheet with every text cell stored as text, never as a formula.

    openpyxl turns any text starting with '=' into a live formula. Text that a spreadsheet could read as a
    formula is stored as a string cell marked quote-prefixed (what Excel does when a user types '=...), so it
    shows exactly as written and stays text even when edited.
    """
    values = list(values)
    sheet.append(values)
    row = sheet._current_row  # not sheet.max_row / sheet[row]: they scan every cell (quadratic on big sheets)
    for column, value in enumerate(values, start=1):
        if isinstance(value, str) and value.startswith(FORMULA_STARTS):
            cell = sheet.cell(row=row, column=column)
            cell.data_type = "s"
            cell.quotePrefix = True


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


def xlsx_target(path: str | Path, what: str, example: str, error: type[CimError] = CimError) -> Path:
    """Refuse an output path that is a folder or has no .xlsx suffix, before any work is done."""
    path = Path(path)
    if path.is_dir():
        raise error(path, "the output path is a folder", f"give a file name, e.g. {example}")
    if path.suffix.lower() != ".xlsx":
        raise error(path, f"the {what} must be an .xlsx file", "give a file name ending in .xlsx")
    return path
