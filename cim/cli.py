"""The `cim` command line: thin wrappers that parse options, call cim functions and report."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cim.cli_help import tidy_help
from cim.errors import CimError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from cim.store import Store

# Only typer, the standard library and cim.errors load when the CLI starts: each command imports what it
# needs (`cim query` must answer in about a second; Rich, pyarrow or pandas at start-up cost that alone).
# Plain (click-style) help: no leading blank line, no boxes that fold in a narrow terminal.
app = typer.Typer(help="City information model: ingest IFC and GIS into a Delta Lake city model and query it.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None)
tidy_help()
_CONSOLES: dict[str, Console] = {}


def _consoles() -> tuple[Console, Console]:
    """(stderr console, stdout console), made on first use: importing Rich is left to commands that print."""
    if not _CONSOLES:
        from rich.console import Console

        # Piped output is read by people too (logs, CI): keep tables wide instead of folding them at 80 columns.
        _CONSOLES["console"] = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
        _CONSOLES["out"] = Console(width=None if sys.stdout.isatty() else 160)
    return _CONSOLES["console"], _CONSOLES["out"]


def __getattr__(name: str) -> Console:
    """``from cim.cli import console, out`` (other command modules) gets the consoles, made on first use."""
    if name in ("console", "out"):
        return dict(zip(("console", "out"), _consoles(), strict=True))[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _err() -> Console:
    return _consoles()[0]


def _out() -> Console:
    return _consoles()[1]


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _table(*headers: str, **options):
    from rich.table import Table

    return Table(*headers, **options)


StoreOpt = Annotated[Path, typer.Option("--store", envvar="CIM_STORE", help="Store folder (env CIM_STORE).")]
DEFAULT_STORE = Path("cim-data")


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def _fail(exc: CimError, code: int = 2) -> None:
    _err().print(f"[bold red]error:[/] {escape(exc.one_line())}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def plain(value: object) -> str:
    """User text (file names, model ids, messages, element names) with Rich markup escaped, so a fix such as
    `add [models."x.ifc"] placement = {...}` prints intact instead of being swallowed as a style tag."""
    return escape("" if value is None else str(value))


def say(text: object) -> None:
    """Print user text on stdout as it is (paths, reports): never read as markup."""
    _out().print(str(text), markup=False, highlight=False, soft_wrap=True)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show library log messages.")] = False):
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="IFC files and GIS files (GeoPackage, GeoJSON, zipped "
                                                     "Shapefile, GeoParquet) to ingest.")],
    store: StoreOpt = DEFAULT_STORE,
    crs: Annotated[str | None, typer.Option(help="City CRS for a new store, e.g. EPSG:4549.")] = None,
    phase: Annotated[str, typer.Option(help="Lifecycle phase recorded for these files: plan, build or manage.")]
    = "manage",
    config: Annotated[Path | None, typer.Option(envvar="CIM_CONFIG", help="City config for CRS, phases and "
                                                "placements (default: ./cim.toml when present; env CIM_CONFIG).")]
    = None,
    workers: Annotated[int, typer.Option(help="Processes for tessellation (0 = one per core).")] = 0,
    force: Annotated[bool, typer.Option(help="Ingest even when the file is unchanged.")] = False,
    checks: Annotated[bool, typer.Option(help="Run the model checks (tunnel register...) after ingest.")] = True,
    cluster: Annotated[str | None, typer.Option(help="Dask scheduler to prepare the files on, e.g. tcp://host:8786 "
                                                "(default: [runtime] dask_address of the config).")] = None,
):
    """Ingest files into the store; each IFC model becomes a new version. Exit 1 if any file was refused."""
    from cim.checks import describe, model_checks
    from cim.config import default_config, load_config, require_metre_crs
    from cim.geometry.tessellate import default_workers
    from cim.ingest.run import ingest_file
    from cim.store import Store

    try:
        config = config or (Path("cim.toml") if Path("cim.toml").is_file() else None)
        cfg = load_config(config) if config else None
        city_crs = crs or (cfg.crs if cfg else None) or _existing_crs(store)
        if city_crs is None:
            raise CimError(store, "a new store needs a city CRS", "pass --crs EPSG:NNNN or --config cim.toml")
        if not (store / "_cim" / "store.json").exists():
            require_metre_crs(city_crs)
        cfg = cfg or default_config(city_crs, phase)
        client = _connect(cluster or cfg.runtime.dask_address)  # before the store: a refused run writes nothing
        st = Store(store, city_crs)
    except CimError as exc:
        _fail(exc)
    if client is not None:
        _ingest_on_cluster(client, st, cfg, paths, force, checks)
    n_workers = workers or default_workers()
    outcomes = []
    try:
        with _sigterm_unwinds(), _progress() as bar:
            for path in paths:
                task = bar.add_task(path.name, total=None)

                def advance(n: int, task=task) -> None:
                    bar.update(task, advance=n)

                outcome = ingest_file(st, cfg, path, workers=n_workers, force=force, progress=advance)
                if checks and outcome.action == "ingested" and outcome.kind == "ifc":
                    settings = cfg.settings_for(path, "ifc")
                    for check in model_checks(st, outcome.model_ids[0], path, placement=settings.placement):
                        outcome.message = "\n".join(filter(None, [outcome.message, describe(check)]))
                bar.update(task, total=1, completed=1) if outcome.action != "ingested" else bar.update(task, total=None)
                bar.remove_task(task)
                outcomes.append(outcome)
    except (KeyboardInterrupt, Terminated) as stop:
        _stopped(st, outcomes, paths, stop)
    _compact_after(st, outcomes)
    _print_outcomes(outcomes)
    raise typer.Exit(1 if any(o.action == "quarantined" for o in outcomes) else 0)


def _connect(address: str | None):
    """The cluster's client, or None to run here; raises when the cluster does not answer (no fallback)."""
    from cim.cluster import connect

    return connect(address) if address else None


def _ingest_on_cluster(client, st, cfg, paths: list[Path], force: bool, checks: bool) -> None:
    from cim.cluster import ingest_on_cluster

    with client:
        outcomes = ingest_on_cluster(client, st, cfg, paths, force=force, checks=checks)
    _compact_after(st, outcomes)
    _print_outcomes(outcomes)
    raise typer.Exit(1 if any(o.action == "quarantined" for o in outcomes) else 0)


def _compact_after(st, outcomes: list) -> None:
    """After commits, a store of many of them is compacted so it stays quick to read (``cim.store.compact``)."""
    if any(o.action == "ingested" for o in outcomes):
        from cim.store.compact import compact_quietly

        compact_quietly(st)


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that it unwinds like Ctrl-C (not caught as an error)."""


@contextlib.contextmanager
def _sigterm_unwinds(grace_s: float = 10.0) -> Iterator[None]:
    """Turn SIGTERM into ``Terminated``: worker pools are killed on the way out, an open commit is undone.

    Workers die with this process in any case (cim.workers); this makes the exit prompt and clean.
    A second SIGTERM, or a clean-up longer than ``grace_s``, ends the process at once.
    """
    def handler(signum, frame) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        watchdog = threading.Timer(grace_s, os._exit, (128 + signal.SIGTERM,))
        watchdog.daemon = True
        watchdog.start()
        raise Terminated()

    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stopped(st: Store, outcomes: list, paths: list[Path], stop: BaseException) -> None:
    """Report an interrupted ingest in one line, after undoing a commit it left half-way."""
    with contextlib.suppress(Exception):
        st.recover()  # the journal protocol: a half-written model version is rolled back now
    from cim.text import table_text

    done = {o.path for o in outcomes}  # Outcome paths are printable text
    left = [table_text(p.name) for p in paths if table_text(str(p)) not in done]
    what = "stopped (SIGTERM)" if isinstance(stop, Terminated) else "interrupted"
    _err().print(f"[bold red]{what}:[/] not finished: {', '.join(left) or 'nothing'}; nothing half-written is left "
                  "in the store (run the same command again to finish)", highlight=False, soft_wrap=True)
    if outcomes:
        _print_outcomes(outcomes)
    # The store is consistent now. Leave without the interpreter's teardown: native threads of the IFC and
    # Delta libraries interrupted mid-call can crash while their modules are finalised (seen as SIGSEGV).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 + signal.SIGTERM if isinstance(stop, Terminated) else 130)


def _existing_crs(store: Path) -> str | None:
    meta = store / "_cim" / "store.json"
    return json.loads(meta.read_text())["crs"] if meta.exists() else None


def _progress() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = _err()
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True, disable=not console.is_terminal)


def _print_outcomes(outcomes) -> None:
    table = _table("file", "result", "model", "version", "rows", "seconds", "message", show_lines=False)
    for o in outcomes:
        colour = {"ingested": "green", "unchanged": "dim", "quarantined": "red"}[o.action]
        table.add_row(plain(Path(o.path).name), f"[{colour}]{o.action}[/]", plain(", ".join(o.model_ids)),
                      ", ".join(map(str, o.versions)), str(o.n_elements or ""), f"{o.seconds:.1f}",
                      plain((o.message or "").splitlines()[0] if o.message else ""))
    _out().print(table)
    for o in outcomes:  # the table folds long cells: each refusal again in one unbroken line, fix included
        if o.action == "quarantined" and o.message:
            _err().print(f"[bold red]refused:[/] {plain(o.message)}", highlight=False, soft_wrap=True)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="One read-only SQL statement. Tables: see `cim tables`.")],
    store: StoreOpt = DEFAULT_STORE,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format; csv and json show geometry as WKT, "
                                        "parquet keeps it as WKB.")] = Format.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write csv, json or parquet to this file "
                                                "instead of stdout (parquet goes to stdout only when it is "
                                                "redirected or piped).")] = None,
    limit: Annotated[int, typer.Option(help="Rows shown in table format (0 = all).")] = 200,
):
    """Run read-only SQL (DuckDB with spatial) over the current city model."""
    from cim.query import run_query
    from cim.query_output import check_format, check_output, write_result

    try:
        check_format(fmt.value, output)
        check_output(output, store)
        rel = run_query(store, sql)
        write_result(rel, fmt.value, output, limit, _out() if fmt is Format.table else None)
    except CimError as exc:
        _fail(exc)
    except Exception as exc:  # a bug, not the query's fault: still one line (the traceback with -v)
        logging.getLogger("cim.query").debug("internal error", exc_info=True)
        _fail(CimError(None, f"internal error: {type(exc).__name__}: {exc}", "report it with the query; rerun "
                       "with -v for details", stage="query"), code=3)


@app.command()
def tables(store: StoreOpt = DEFAULT_STORE):
    """List the store's tables with row counts and what they hold."""
    import duckdb

    from cim.query import connect, query_failed, store_folder, store_views
    from cim.store.schema import documented_tables

    try:
        con = connect(store_folder(store))
        docs = documented_tables()["tables"]
        table = _table("table", "rows", "description")
        for name in store_views(con):
            quoted = name.replace('"', '""')
            count = con.execute(f'SELECT count(*) FROM "{quoted}"').fetchone()[0]
            base = name.removesuffix("_history")
            desc = docs.get(base, {}).get("description", "GIS layer" if base not in docs else "")
            if name.endswith("_history"):
                desc = f"all versions of {base}"
            elif name == "current_models":
                desc = "the newest version of each model"
            table.add_row(escape(name), str(count), escape(desc))
    except CimError as exc:
        _fail(exc)
    except duckdb.Error as exc:
        _fail(query_failed(exc))
    _out().print(table)


@app.command()
def tunnel(
    model_id: Annotated[str, typer.Argument(help="The tunnel's model_id in the store.")],
    ifc: Annotated[Path | None, typer.Argument(help="The tunnel's IFC file (for chainage along its alignment); "
                                                    "default: the file the current version was ingested from.")]
    = None,
    store: StoreOpt = DEFAULT_STORE,
    rules: Annotated[Path | None, typer.Option(help="Rules file (default schemas/tunnel_rules.toml).")] = None,
    cobie: Annotated[Path | None, typer.Option(help="Also write the COBie 2.4 XLSX handover workbook here.")] = None,
    config: Annotated[Path | None, typer.Option(envvar="CIM_CONFIG", help="City config with the model's placement "
                                                "(default: ./cim.toml when present; env CIM_CONFIG).")] = None,
):
    """Build the tunnel asset register and check GB 50838 rules; exit 1 when a rule is broken (error)."""
    from cim.cobie.workbook import check_target
    from cim.store import Store
    from cim.tunnel.cobie import export_cobie
    from cim.tunnel.run import analyse_tunnel

    try:
        if cobie is not None:
            check_target(cobie)  # a folder or a non-.xlsx name is refused before the analysis
        opened = Store(store, create=False)
        path = ifc or _source_file(opened, model_id)
        summary = analyse_tunnel(opened, model_id, path, rules, placement=_placement(config, path))
        if cobie is not None:
            say(f"COBie workbook: {export_cobie(opened, model_id, cobie)}")
    except CimError as exc:
        _fail(exc)
    table = _table(*summary)
    table.add_row(*map(plain, summary.values()))
    _out().print(table)
    _out().print('[dim]findings: cim query "SELECT rule_id, clause, severity, compartment, message '
              'FROM tunnel_findings"[/]')
    raise typer.Exit(1 if summary["errors"] else 0)


def _source_file(store: Store, model_id: str) -> Path:
    """The file the current version of ``model_id`` was ingested from, found from any working directory."""
    from cim.config import resolve_source

    latest = store.latest(model_id)
    if latest is None:
        raise CimError(store.root, f"no model {model_id!r} in the store", "ingest it first with `cim ingest`")
    path = resolve_source(latest["source_path"], latest.get("source_root"))
    if not path.is_file():
        raise CimError(path, f"the file {model_id!r} was ingested from is not there", "pass the IFC file's path")
    return path


def _placement(config: Path | None, ifc: Path) -> dict | None:
    """The config's placement for ``ifc`` (models without IfcMapConversion), as `cim ingest` used it."""
    from cim.config import load_config

    config = config or (Path("cim.toml") if Path("cim.toml").is_file() else None)
    return load_config(config).settings_for(ifc, "ifc").placement if config else None


@app.command()
def qto(
    model_id: Annotated[str, typer.Argument(help="The model's model_id in the store.")],
    store: StoreOpt = DEFAULT_STORE,
    ifc: Annotated[Path | None, typer.Option(help="The model's IFC file (for gross quantities of hosts with "
                                                  "openings); default: the ingested source path.")] = None,
    csv: Annotated[Path | None, typer.Option(help="Write quantities and summary as CSV into this folder.")] = None,
    xlsx: Annotated[Path | None, typer.Option(help="Write an XLSX workbook for estimators.")] = None,
    tolerance: Annotated[float, typer.Option(help="Relative difference that counts as a disagreement.")] = 0.02,
    approximate: Annotated[bool, typer.Option(help="When the ingested IFC file cannot be found, take gross = net + "
                                                   "openings (flagged unreliable) instead of refusing.")] = False,
):
    """Quantity takeoff of a model's current version; lists where it disagrees with the declared quantities."""
    from cim.qto.crosscheck import report
    from cim.qto.run import export_csv, export_xlsx, takeoff
    from cim.qto.workbook import check_target
    from cim.store import Store

    try:
        if xlsx is not None:
            check_target(xlsx)  # a folder or a non-.xlsx name is refused before the takeoff
        st = Store(store, create=False)
        summary = takeoff(st, model_id, ifc_path=ifc, approximate=approximate)
        table = _table(*summary)
        table.add_row(*map(plain, summary.values()))
        _out().print(table)
        say(report(st.read("quantities", filters=[("model_id", "=", model_id)]).to_pylist(), tolerance))
        for path in ([*export_csv(st, model_id, csv)] if csv else []) + ([export_xlsx(st, model_id, xlsx, tolerance)]
                                                                          if xlsx else []):
            say(path)
    except CimError as exc:
        _fail(exc)


@app.command()
def samples(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the sample city into.")] = Path("sample_models"),
):
    """Regenerate the demo city (GIS layers, IFC models, submissions); byte-identical each time."""
    from cim.samples.generate import generate_all

    for path in generate_all(out_dir):
        say(path)


def _register_subcommands() -> None:
    from cim.cli_clash import app as clash_app
    from cim.cli_cobie import cobie
    from cim.cli_diff import diff
    from cim.cli_export import export
    from cim.cli_lifecycle import register as register_lifecycle
    from cim.cli_review import review
    from cim.cli_view import view

    app.add_typer(clash_app, name="clash")
    app.command()(review)
    app.command()(export)
    register_lifecycle(app)
    app.command()(cobie)
    app.command()(diff)
    app.command()(view)


_register_subcommands()

def entry() -> None:
    """The `cim` program: the app, ended without the native libraries' teardown (cim.process_exit)."""
    from cim.process_exit import run

    run(app)


if __name__ == "__main__":  # pragma: no cover
    entry()
