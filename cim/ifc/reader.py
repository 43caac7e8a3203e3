"""Open an IFC file, or refuse it with a reason a person can act on."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import ifcopenshell

from cim.errors import InputError, UnsupportedSchemaError
from cim.ifc.integrity import ParseFindings, parse_findings
from cim.text import table_text

HEADER_BYTES = 65536
SUPPORTED = ("IFC2X3", "IFC4", "IFC4X3_ADD2")
# Schema names written by real exporters that mean a schema ifcopenshell knows.
ALIASES = {
    "IFC2X3_FINAL": "IFC2X3",
    "IFC2X3_TC1": "IFC2X3",
    "IFC4X3": "IFC4X3_ADD2",
    "IFC4X3_TC1": "IFC4X3_ADD2",
    "IFC4X3_ADD1": "IFC4X3_ADD2",
    "IFC4_ADD2_TC1": "IFC4",
    "IFC4_ADD2": "IFC4",
    "IFC4_ADD1": "IFC4",
}
_SCHEMA_RE = re.compile(rb"FILE_SCHEMA\s*\(\s*\(\s*'([^']*)'", re.IGNORECASE)
_END_RE = re.compile(rb"END-ISO-10303-21\s*;\s*\Z")
BOM = b"\xef\xbb\xbf"


@dataclass
class OpenedIfc:
    file: ifcopenshell.file
    path: Path
    schema: str
    declared_schema: str
    authoring_application: str | None
    warnings: list[str] = field(default_factory=list)
    findings: ParseFindings = field(default_factory=ParseFindings)


def declared_schema(path: Path, head: bytes) -> str:
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"ISO-10303-21;"):
        raise InputError(path, "not an IFC file: it does not start with 'ISO-10303-21;' (IFC-SPF header)",
                         "export the model as IFC (.ifc, STEP physical file) from the authoring tool")
    match = _SCHEMA_RE.search(head)
    if not match:
        raise InputError(path, "the IFC header has no FILE_SCHEMA", "re-export the model; the header is damaged")
    return match.group(1).decode("ascii", "replace").strip()


def file_schema(path: str | Path) -> str:
    """The schema a file's header declares, exporters' aliases resolved, read without parsing the file.

    Raises InputError for a file that is not IFC or has no FILE_SCHEMA, OSError when it cannot be read."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(HEADER_BYTES)
    name = declared_schema(path, head).upper()
    return ALIASES.get(name, name)


def open_ifc(path: str | Path) -> OpenedIfc:
    """Open ``path`` with ifcopenshell after the checks that give better errors than the parser's."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found", "check the path")
    size = path.stat().st_size
    if size == 0:
        raise InputError(path, "empty file (0 bytes)", "the upload or copy failed; send the file again")
    with path.open("rb") as fh:
        head = fh.read(HEADER_BYTES)
        fh.seek(max(0, size - 256))
        tail = fh.read()
    declared = declared_schema(path, head)
    schema = ALIASES.get(declared.upper(), declared.upper())
    if schema not in SUPPORTED:
        raise UnsupportedSchemaError(
            path, f"unsupported IFC schema {declared!r}",
            f"export as one of {', '.join(SUPPORTED)}; draft or vendor schemas cannot be read")
    if not _END_RE.search(tail):
        raise InputError(path, "the file is cut off: it does not end with 'END-ISO-10303-21;'",
                         "the upload or copy was interrupted; send the complete file")
    warnings: list[str] = []
    ifcopenshell.ifcopenshell_wrapper.get_log()  # clear what earlier files left in the parser log
    try:
        if schema != declared:
            text = path.read_bytes().removeprefix(BOM).replace(f"'{declared}'".encode(), f"'{schema}'".encode(), 1)
            model = ifcopenshell.file.from_string(text.decode("utf-8", "replace"))
            warnings.append(f"non-standard schema name {declared!r} read as {schema}")
        elif head.startswith(BOM):
            model = _open_without_bom(path)
        else:
            model = ifcopenshell.open(str(path))
    except Exception as exc:  # ifcopenshell raises plain errors; the detail is in its log
        detail = _parser_detail() or str(exc).strip() or type(exc).__name__
        raise InputError(path, f"IFC syntax error: {_printable(detail)}",
                         "validate the file (e.g. with the buildingSMART validation service) and re-export",
                         stage="parse") from exc
    findings = parse_findings(ifcopenshell.ifcopenshell_wrapper.get_log())
    if not model.by_type("IfcProject"):
        reason = "no IfcProject in the file"
        if findings.damaged:
            reason += f" ({'; '.join(findings.summary())})"
        raise InputError(path, reason, "an IFC model needs exactly one IfcProject; re-export the complete model",
                         stage="parse")
    return OpenedIfc(model, path, schema, declared, authoring_application(model), warnings, findings)


def _open_without_bom(path: Path) -> ifcopenshell.file:
    """Real exporters write a UTF-8 byte order mark that ifcopenshell refuses: parse a copy without it.

    A streamed copy keeps memory at one parsed model (from_string would also hold the whole text).
    """
    fd, tmp = tempfile.mkstemp(suffix=".ifc")
    try:
        with os.fdopen(fd, "wb") as out, path.open("rb") as src:
            src.seek(len(BOM))
            shutil.copyfileobj(src, out, 1 << 20)
        return ifcopenshell.open(tmp)
    finally:
        os.unlink(tmp)


def _printable(text: str) -> str:
    """One line of printable text, whatever bytes the parser quoted from a damaged file (cim.text's escaping)."""
    return table_text(" ".join(text.split()), 300)


def authoring_application(model: ifcopenshell.file) -> str | None:
    """Which tool wrote the file: IfcApplication if present, else the header's originating system."""
    apps = model.by_type("IfcApplication")
    if apps:
        app = apps[0]
        return " ".join(str(v) for v in (app.ApplicationFullName, app.Version) if v)
    try:
        name = model.wrapped_data.header.file_name
        return name.originating_system or name.preprocessor_version or None
    except Exception:
        return None


def _parser_detail() -> str:
    """The parser's first error line (e.g. 'token -1.#INF at offset 806 invalid'), without the log prefix."""
    for line in ifcopenshell.ifcopenshell_wrapper.get_log().splitlines():
        if "[error]" in line:
            return re.sub(r"^\[error\]\s*\[[^]]*\]\s*", "", line).strip()
    return ""
