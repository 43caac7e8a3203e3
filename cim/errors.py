"""One exception hierarchy: every error names the file, the reason, and what to do.

The CLI turns these into one line and an exit code; flows turn them into quarantine rows.
"""

from __future__ import annotations

from pathlib import Path


class CimError(Exception):
    """Base error. ``stage`` says where in the pipeline it happened (open, georef, ...)."""

    stage = "unknown"
    retryable = False

    def __init__(self, path: str | Path | None, reason: str, hint: str = "", *, stage: str | None = None):
        self.path = str(path) if path is not None else None
        self.reason = reason
        self.hint = hint
        if stage:
            self.stage = stage
        super().__init__(self.one_line())

    def __reduce__(self):
        """Survive pickling across worker processes with path, reason, hint and stage intact."""
        return (_rebuild, (self.__class__, self.path, self.reason, self.hint, self.stage))

    def one_line(self) -> str:
        where = f"{self.path}: " if self.path else ""
        tail = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.reason}{tail}"


class InputError(CimError):
    """The input file itself is bad: retrying will not help."""

    stage = "open"


class UnsupportedSchemaError(InputError):
    stage = "schema"


class GeorefError(InputError):
    stage = "georef"


class GeometryError(InputError):
    stage = "geometry"


class GisError(InputError):
    stage = "gis"


class ConfigError(CimError):
    stage = "config"


class StoreError(CimError):
    stage = "store"


class TransientIOError(CimError):
    """A read or write that may succeed if tried again (file locked, disk busy)."""

    stage = "io"
    retryable = True


def _rebuild(cls: type[CimError], path: str | None, reason: str, hint: str, stage: str) -> CimError:
    return cls(path, reason, hint, stage=stage)
