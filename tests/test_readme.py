"""The README is tested: every command in README.md and docs/*.md runs as shown, and what they name exists.

Conventions for the documents (keep them when you add a section):

- ```sh blocks are run, one command per line (``\\`` continues a line), from the project folder with
  ``.venv/bin`` on PATH, against ./cim-data built by ``make run`` (the real nightly flow over the sample
  city). A command must exit 0, unless a trailing ``# exit N`` says otherwise; no output may hold a
  Traceback. Commands run in document order (README.md first, then docs/*.md by name), so a command that
  writes (``review --accept``, ``ingest``) is seen by the ones after it, as it would be by a reader.
- ```sql blocks are run statement by statement with ``cim query`` against that store (so a column
  that does not exist fails); ```python blocks are run with the project's Python; ```toml blocks must parse.
- Synopsis lines with placeholders (``cim ingest PATH... [--store DIR]``) go in ```text blocks: they are
  not run, but their commands and options must exist, and together they must list every ``cim`` command
  and option (``--help`` aside).
- Inline code (prose and tables) is not run; a ``cim ...`` or ``make ...`` it names must exist, and a
  ``table.column`` reference must name a documented column.
- A command that cannot run here is in NOT_RUN below, with the reason.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.readme_commands import (
    ROOT,
    Snippet,
    blocks,
    cli_references,
    cli_words,
    documents,
    inline_code,
    make_references,
    prose,
    snippets,
    user_env,
)

pytestmark = pytest.mark.flow

# Commands shown in the documents that this test does not run: the reason for each.
NOT_RUN = {
    "make test": "runs the whole suite, this test included",
    "make serve": "a long-running server; tests/test_serve.py starts and stops `flows.nightly serve`",
    ".venv/bin/prefect deployment ls": "needs `make serve` running; tests/test_serve.py runs it against one",
    ".venv/bin/prefect flow-run ls": "needs `make serve` running; tests/test_serve.py runs it against one",
    ".venv/bin/prefect deployment run cim-nightly/cim-nightly":
        "needs `make serve` running; tests/test_serve.py runs it against one",
}
SNIPPETS = snippets()
FILE_SUFFIXES = {"json", "bcfzip", "csv", "xlsx", "ifc", "toml", "md", "html", "parquet", "gpkg"}


def _not_run(snippet: Snippet) -> str | None:
    command = snippet.text.split("#")[0].strip()
    return next((why for key, why in NOT_RUN.items() if command == key or command.startswith(key + " ")), None)


def _click_app():
    import typer.main

    from cim.cli import app

    return typer.main.get_command(app)


def _commands(group, path=()) -> dict[tuple[str, ...], object]:
    """Every leaf command of the CLI by its path, e.g. ("clash", "files")."""
    out = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            out.update(_commands(command, (*path, name)))
        else:
            out[(*path, name)] = command
    return out


def _options(command) -> set[str]:
    return {"--help"} | {o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")}


def _run(snippet: Snippet, repo: Path) -> subprocess.CompletedProcess:
    env = user_env(repo)
    if snippet.kind == "sh":
        args = ["bash", "-c", snippet.text]
    elif snippet.kind == "sql":
        args = [str(repo / ".venv" / "bin" / "cim"), "query", "--", snippet.text]
    else:
        script = repo / f"readme_snippet_{abs(hash(snippet.source))}.py"
        script.write_text(snippet.text, encoding="utf-8")
        args = [str(repo / ".venv" / "bin" / "python"), str(script)]
    return subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=900,
                          stdin=subprocess.DEVNULL)


def test_the_documents_have_runnable_commands_of_every_kind() -> None:
    kinds = {s.kind for s in SNIPPETS}
    assert {"sh", "sql", "python", "toml"} <= kinds
    assert sum(s.kind == "sh" and not _not_run(s) for s in SNIPPETS) >= 5


def test_every_command_left_out_is_one_the_documents_show() -> None:
    shown = {s.text.split("#")[0].strip() for s in SNIPPETS if s.kind == "sh"}
    for key in NOT_RUN:
        assert any(c == key or c.startswith(key + " ") for c in shown), f"NOT_RUN names {key!r}, not in the docs"


def test_make_run_builds_the_sample_city_store(sample_flow_repo) -> None:
    repo, done = sample_flow_repo
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "Traceback" not in out
    assert (repo / "cim-data" / "models").is_dir()


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.id)
def test_every_command_in_the_readme_and_docs_runs_as_shown(snippet: Snippet, sample_flow_repo) -> None:
    repo, made = sample_flow_repo
    if snippet.kind == "toml":
        tomllib.loads(snippet.text)
        return
    if (why := _not_run(snippet)) is not None:
        pytest.skip(f"not run: {why}")
    # the session's store was built by exactly `make run`: its result is that command's
    done = made if snippet.kind == "sh" and snippet.text.split("#")[0].strip() == "make run" else _run(snippet, repo)
    out = done.stdout + done.stderr
    assert "Traceback" not in out, f"{snippet.source}: {snippet.text}\n{out[-4000:]}"
    assert done.returncode == snippet.expected_exit, (
        f"{snippet.source}: {snippet.text}\nexit {done.returncode}, documented {snippet.expected_exit}\n{out[-4000:]}")


def test_every_cim_command_and_option_named_in_the_documents_exists() -> None:
    app = _click_app()
    wrong = []
    for path in documents():
        for reference in cli_references(path):
            words = cli_words(reference)[1:]
            command, options = app, _options(app)
            while words and hasattr(command, "commands") and not words[0].startswith("-"):
                if words[0] not in command.commands:
                    break
                command = command.commands[words.pop(0)]
                options |= _options(command)
            if hasattr(command, "commands") and words and not words[0].startswith("-"):
                wrong.append(f"{path.name}: `{reference}`: no command {words[0]!r}")
                continue
            for word in words:
                option = word.split("=")[0]
                if option.startswith("--") and option not in options:
                    wrong.append(f"{path.name}: `{reference}`: {command.name} has no option {option}")
    assert not wrong, "\n".join(wrong)


def test_the_command_line_synopsis_lists_every_command_and_option() -> None:
    readme = ROOT / "README.md"
    synopsis = [line.strip() for b in blocks(readme) if b.language == "text" for line in b.text.splitlines()
                if line.strip().startswith("cim ")]
    missing = []
    for path, command in _commands(_click_app()).items():
        lines = [line for line in synopsis if cli_words(line)[1:1 + len(path)] == list(path)]
        if not lines:
            missing.append(f"cim {' '.join(path)}")
            continue
        text = " ".join(lines)
        for param in command.params:
            names = [o for o in (*param.opts, *param.secondary_opts) if o.startswith("--")]
            if names and not any(re.search(re.escape(o) + r"(?![\w-])", text) for o in names):
                missing.append(f"cim {' '.join(path)} {names[0]}")
    assert not missing, "README's command-line synopsis does not show: " + ", ".join(sorted(missing))


def test_every_make_target_named_in_the_documents_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w ]*):", makefile, flags=re.MULTILINE))
    targets = {t for line in targets for t in line.split()}
    wrong = [f"{p.name}: `{r}`" for p in documents() for r in make_references(p) if r.split()[1] not in targets]
    assert not wrong, "no such make target: " + ", ".join(wrong)


def _documented_columns() -> dict[str, set[str]]:
    from cim.store.schema import documented_tables

    return {name: {c["name"] for c in doc["columns"]} for name, doc in documented_tables()["tables"].items()}


def test_every_table_column_named_in_the_documents_exists() -> None:
    columns = _documented_columns()
    wrong = []
    for path in documents():
        for code in inline_code(path):
            for table, column in re.findall(r"^([a-z_]+)\.([a-z_]+)$", code.strip()):
                if table in columns and column not in columns[table] and column not in FILE_SUFFIXES:
                    wrong.append(f"{path.name}: `{code}`")
    assert not wrong, "no such column: " + ", ".join(wrong)


def _store_table_rows() -> list[tuple[str, str]]:
    """(first cell, history cell) of each row of the README's table of tables (header `| table | ... history`)."""
    text = prose(ROOT / "README.md")
    match = re.search(r"^\| table \|.*\n\|[-| ]+\|\n((?:\|.*\n?)+)", text, flags=re.MULTILINE)
    assert match, "README.md has no table starting `| table |`"
    header = [c.strip() for c in match.group(0).splitlines()[0].strip("|").split("|")]
    assert "history" in header, "README's table of tables has no history column"
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in match.group(1).splitlines()]
    return [(row[0], row[1], row[header.index("history")]) for row in rows]


def test_the_readme_lists_every_table_and_which_keep_history(sample_flow_repo) -> None:
    from cim.store import Store
    from cim.store.delta import VERSIONED_TABLES

    rows = _store_table_rows()
    named = {n for first, _, _ in rows for n in re.findall(r"`([a-z_]+)`", first)}
    columns = _documented_columns()
    assert set(columns) - named == set(), "README's table of tables leaves out documented tables"
    for first, what, history in rows:
        names = re.findall(r"`([a-z_]+)`", first)
        for name in names:
            assert name in columns, f"README names a table {name!r} that schemas/tables*.toml does not document"
            says = history.lower().startswith("yes")
            assert says == (name in VERSIONED_TABLES), f"README's history cell for {name} says {history!r}"
        for column in re.findall(r"`([a-z_]+)`", what) if names else []:
            assert any(column in columns[n] for n in names), f"README: {'/'.join(names)} has no column {column!r}"
    repo, _ = sample_flow_repo
    views = {name for name, _ in __import__("cim.store.views", fromlist=["x"]).view_definitions(
        Store(repo / "cim-data", create=False))}
    for name in VERSIONED_TABLES:
        assert f"{name}_history" in views
    layers = Store(repo / "cim-data", create=False).layer_names()
    assert layers and all(f"{layer}_history" in views for layer in layers), "GIS layers have no _history view"


def test_a_gis_layer_has_a_history_view_with_every_committed_version(tmp_path: Path) -> None:
    import geopandas as gpd
    import shapely

    from cim.config import default_config
    from cim.ingest.run import ingest_file
    from cim.query import run_query
    from cim.store import Store

    store, city = Store(tmp_path / "store", "EPSG:4549"), default_config("EPSG:4549")
    for n, extra in ((1, {}), (2, {"owner": ["city"] * 2})):
        gpd.GeoDataFrame({"parcel_id": [f"P{n}", "P9"], **extra},
                         geometry=[shapely.box(464_890, 2_865_790, 464_920 + n, 2_865_820)] * 2,
                         crs="EPSG:4549").to_file(tmp_path / "city.gpkg", layer="parcels")
        ingest_file(store, city, tmp_path / "city.gpkg")
    rows = run_query(store, "SELECT version, parcel_id, owner, ST_Area(geometry) > 0 FROM parcels_history "
                            "ORDER BY 1, 2").fetchall()
    assert rows == [(1, "P1", None, True), (1, "P9", None, True), (2, "P2", "city", True), (2, "P9", "city", True)]
    assert run_query(store, "SELECT count(*) FROM parcels").fetchone() == (2,)
