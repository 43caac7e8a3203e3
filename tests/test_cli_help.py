"""Help of every `cim` command reads like a command line: SQL, [IFC], --store PATH, no type noise."""

from __future__ import annotations

import re

import typer
from typer.testing import CliRunner

from cim.cli import app

runner = CliRunner()
TYPE_NOISE = re.compile(r"<(bool|str|int|float|path|file|dir|datetime|uuid)>|\{[A-Za-z_]+\}")


def _command_paths(command, path: tuple[str, ...] = ()):
    """Every command and subcommand of the app, as the words typed after `cim`."""
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _command_paths(sub, (*path, name))


def test_the_app_has_the_commands_users_are_told_about():
    paths = set(_command_paths(typer.main.get_command(app)))
    assert {("query",), ("tables",), ("ingest",), ("clash",), ("review",)} <= paths
    assert any(len(p) == 2 and p[0] == "clash" for p in paths)


def test_help_of_every_command_shows_no_type_or_brace_metavars_and_no_leading_blank_line():
    for path in _command_paths(typer.main.get_command(app)):
        result = runner.invoke(app, [*path, "--help"])
        shown = " ".join(("cim", *path))
        assert result.exit_code == 0, f"{shown} --help: {result.output}"
        assert result.output.startswith("Usage: "), f"{shown} --help starts with {result.output[:20]!r}"
        assert not TYPE_NOISE.search(result.output), f"{shown} --help: {TYPE_NOISE.search(result.output)[0]}"


def test_query_help_names_its_argument_and_option_values_the_usual_way():
    result = runner.invoke(app, ["query", "--help"])

    assert re.search(r"Usage: \S+ query \[OPTIONS\] SQL\n", result.output)
    assert "--store PATH" in result.output and "--format [table|csv|json|parquet]" in result.output
    assert "--limit INTEGER" in result.output


def test_the_tables_command_prints_no_leading_blank_line(city_store):
    result = runner.invoke(app, ["tables", "--store", str(city_store.root)])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].strip()
    assert "elements" in result.stdout and "parcels" in result.stdout
