"""Click-style help for every cim command: ``SQL``, ``[IFC]``, ``--store PATH``, ``--format [table|csv]``.

typer 0.29 prints each value's Python type in angle brackets (``<str>``, ``--help <bool>`` for a flag
that takes no value) and a required argument in braces (``cim query [OPTIONS] {sql}``), which reads
as if the braces were to be typed. ``tidy_help`` makes typer's argument and option classes print the
conventional forms instead; it only changes how help and usage lines are written, never parsing.
"""

from __future__ import annotations

from typer import core

_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "bool": "BOOLEAN"}
_TYPER_OPTION_TYPE = core.TyperOption.display_type


def _argument_usage(self: core.TyperArgument) -> str:
    """``SQL`` when required, ``[IFC]`` when optional, ``PATHS...`` when it takes several values."""
    name = self.display_name_raw.upper()
    if not self.required:
        name = f"[{name}]"
    return f"{name}..." if self.nargs != 1 else name


def _argument_help_name(self: core.TyperArgument) -> str:
    name = self.display_name_raw.upper()
    return f"{name}..." if self.metavar is None and self.nargs != 1 else name


def _argument_type(self: core.TyperArgument, ctx) -> str | None:
    """Nothing: the upper-case name already says what to give."""
    return None


def _option_type(self: core.TyperOption, ctx) -> str | None:
    """A flag takes no value (nothing shown); a choice shows ``[a|b]``, anything else ``PATH``, ``TEXT``..."""
    if self.is_flag or self.count:
        return None
    label = _TYPER_OPTION_TYPE(self, ctx).strip("<>")
    if self.type_descriptor.is_choice:
        return f"[{label}]"
    return _NAMES.get(label, label.upper())


def tidy_help() -> None:
    core.TyperArgument._usage_display_name = _argument_usage
    core.TyperArgument._rich_display_name = _argument_help_name
    core.TyperArgument.display_type_rich = _argument_type
    core.TyperOption.display_type = _option_type
