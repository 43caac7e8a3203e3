"""`cim clash ...`: check the city, list clashes, set their status, export JSON and BCF."""

from __future__ import annotations

import dataclasses
import enum
import json
import os
from pathlib import Path
from typing import Annotated

import typer

from cim.errors import CimError

app = typer.Typer(help="Clash detection: hard, clearance, duplicate and containment checks with status across runs.",
                  no_args_is_help=True, add_completion=False)
StoreOpt = Annotated[Path, typer.Option("--store", envvar="CIM_STORE", help="Store folder (env CIM_STORE).")]
RulesOpt = Annotated[Path | None, typer.Option("--rules", help="Rule file (default schemas/clash_rules.toml).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", envvar="CIM_CONFIG",
                                                help="City config (ground elevation, source folder); default "
                                                     "./cim.toml when present.")]

STATUSES = ("new", "active", "resolved", "approved")  # cim.clash.status.STATUSES, without importing it at start-up


class BcfVersion(enum.StrEnum):
    """BCF-XML versions the export writes."""

    v2_1 = "2.1"
    v3_0 = "3.0"


BcfVersionOpt = Annotated[BcfVersion, typer.Option("--bcf-version", help="BCF-XML version of clashes.bcfzip: 2.1 "
                                                                         "(most viewers) or 3.0.")]


def _console():
    from cim.cli import console, out

    return console, out


def _plain(value: object) -> str:
    from cim.cli import plain

    return plain(value)


def _say(text: object) -> None:
    from cim.cli import say

    say(text)


def _fail(exc: CimError) -> None:
    from cim.cli import _fail as fail

    fail(exc)


def _config(path: Path | None):
    from cim.config import load_config

    path = path or (Path("cim.toml") if Path("cim.toml").exists() else None)
    return load_config(path) if path else None


@app.command()
def check(
    store: StoreOpt = Path("cim-data"),
    rules: RulesOpt = None,
    rule: Annotated[list[str] | None, typer.Option("--rule", help="Run only this rule (repeatable).")] = None,
    config: ConfigOpt = None,
    full: Annotated[bool, typer.Option(help="Re-test every pair, not only pairs with changed elements.")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Also write clashes.json and clashes.bcfzip "
                                                               "here.")] = None,
    bcf_version: BcfVersionOpt = BcfVersion.v2_1,
    tile_size: Annotated[float | None, typer.Option("--tile-size", help="Check by square tiles of this many metres, "
                                                    "each tile a task reading only its own elements (0: never; "
                                                    "default: [clash] tile_size of the config, else by tiles above "
                                                    "200,000 elements).")] = None,
    workers: Annotated[int, typer.Option(help="Processes for the tiles when not on a cluster, or to share "
                                              "an untiled check's pair tests (1: this process).")] = 1,
    cluster: Annotated[str | None, typer.Option(help="Dask scheduler to check the tiles on, e.g. tcp://host:8786 "
                                                "(default: [runtime] dask_address of the config).")] = None,
):
    """Check the store's current models against the rules; update the clashes table. Exit 1 when open clashes."""
    import contextlib

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cim.clash.export import export_store
    from cim.clash.rules import load_rules
    from cim.clash.run import check_city
    from cim.cluster import connect, use_cluster
    from cim.store import Store

    console, out = _console()
    try:
        st = Store(store, create=False)
        cfg = _config(config)
        ruleset = load_rules(rules, rule)
        address = cluster or (cfg.runtime.dask_address if cfg else None)
        client = connect(address) if address else None  # before any work: no silent fallback to this machine
        with contextlib.ExitStack() as stack:
            if client is not None:  # the tiles go to the cluster's workers; closed when the check is done
                stack.enter_context(client)
                stack.enter_context(use_cluster(client))
            bar = stack.enter_context(Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                               TimeElapsedColumn(), console=console, transient=True))
            task = bar.add_task("clash check", total=None)

            def progress(name: str, done: int, total: int) -> None:
                bar.update(task, description=f"rule {name}" if name != "tiles" else "tiles", completed=done,
                           total=total)

            summary = check_city(st, ruleset, ground_z=cfg.ground_elevation_m if cfg else None,
                                 base=cfg.root if cfg else None, full=full, progress=progress,
                                 tile_size=tile_size if tile_size is not None else cfg.clash.tile_size if cfg else None,
                                 workers=workers)
        rows = st.read("clashes").to_pylist()
        if out_dir is not None:
            for path in export_store(st, rows, out_dir, summary, config=cfg, version=bcf_version.value):
                _say(path)
    except CimError as exc:
        _fail(exc)
    _print_summary(out, summary)
    open_clashes = sum(n for s, n in summary["statuses"].items() if s in ("new", "active"))
    raise typer.Exit(1 if open_clashes else 0)


def _print_summary(out, summary: dict) -> None:
    from rich.table import Table

    table = Table("elements", "zones", "tested", "suppressed", "found", "statuses", "incremental", "seconds")
    table.add_row(str(summary["elements"]), str(summary["zones"]), str(summary["tested"]),
                  str(summary["suppressed"]), str(summary["found"]),
                  ", ".join(f"{k} {v}" for k, v in sorted(summary["statuses"].items())),
                  str(summary["incremental"]), str(summary["seconds"]))
    out.print(table)
    if summary.get("tile_size"):
        where = {"cluster": "the Dask cluster", "processes": "local processes"}.get(summary["tiles_on"], "this process")
        out.print(f"tiles: {summary['tile_tasks']} of {summary['tiles']} checked ({summary['tile_size']:g} m), "
                  f"on {where}")
    out.print('[dim]list them: cim clash list   or   cim query "SELECT * FROM clashes"[/]')


@app.command("list")
def list_(
    store: StoreOpt = Path("cim-data"),
    status: Annotated[list[str] | None, typer.Option(help="Only these statuses (repeatable); default new and "
                                                          "active.")] = None,
    model: Annotated[str | None, typer.Option(help="Only clashes involving this model_id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
):
    """List clashes from the store, with the model and storey of both elements."""
    from cim.clash.export import clash_json
    from cim.store import Store

    _, out = _console()
    unknown = sorted(set(status or ()) - set(STATUSES))
    if unknown:
        _fail(CimError(None, f"--status {', '.join(unknown)}: not a clash status",
                       f"valid statuses: {', '.join(STATUSES)}"))
    try:
        rows = Store(store, create=False).read("clashes").to_pylist()
    except CimError as exc:
        _fail(exc)
    wanted = set(status or ("new", "active"))
    rows = [r for r in rows if r["status"] in wanted and (model is None or model in (r["a_model"], r["b_model"]))]
    if as_json:
        print(json.dumps(clash_json(rows), indent=1, default=str, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table("clash_id", "status", "rule", "mode", "A", "A model", "A storey", "B", "B model", "B storey",
                  "depth/distance m", "group")
    for r in sorted(rows, key=lambda r: (r["location_group"], r["clash_id"])):
        measure = r["depth_m"] if r["depth_m"] is not None else r["distance_m"]
        table.add_row(*map(_plain, (r["clash_id"], r["status"], r["rule"], r["mode"],
                                    f"{r['a_class']} {r['a_name'] or ''}", r["a_model"], r["a_storey"] or "",
                                    f"{r['b_class']} {r['b_name'] or ''}", r["b_model"], r["b_storey"] or "",
                                    "" if measure is None else f"{measure:.3f}", r["location_group"])))
    out.print(table)


@app.command()
def status(
    clash_ids: Annotated[list[str], typer.Argument(help="Clash ids (see `cim clash list`).")],
    to: Annotated[str, typer.Option("--to", help="new, active, resolved or approved.")],
    note: Annotated[str | None, typer.Option(help="Why (kept in the clash's history).")] = None,
    by: Annotated[str, typer.Option(help="Who (default: $USER).")] = os.environ.get("USER", "unknown"),
    store: StoreOpt = Path("cim-data"),
):
    """Set the status of clashes by hand, e.g. approve an intended overlap."""
    from cim.clash.run import change_status
    from cim.store import Store

    _, out = _console()
    try:
        changed = change_status(Store(store, create=False), clash_ids, to, by, note)
    except (CimError, ValueError) as exc:
        if isinstance(exc, ValueError):
            raise typer.BadParameter(str(exc), param_hint="--to") from exc
        _fail(exc)
    _say(f"{changed} clash(es) set to {to}")


@app.command()
def export(
    out_dir: Annotated[Path, typer.Argument(help="Folder for clashes.json and clashes.bcfzip.")],
    store: StoreOpt = Path("cim-data"),
    config: ConfigOpt = None,
    bcf_version: BcfVersionOpt = BcfVersion.v2_1,
):
    """Write the store's clashes as JSON and as BCF 2.1 or 3.0 (one topic per element group, with snapshots).

    The BCF project is named after the city: the config's [city] name (else that of the cim.toml the models
    were ingested with)."""
    from cim.clash.export import export_store
    from cim.store import Store

    _, out = _console()
    try:
        st = Store(store, create=False)
        for path in export_store(st, st.read("clashes").to_pylist(), out_dir, config=_config(config),
                                 version=bcf_version.value):
            _say(path)
    except CimError as exc:
        _fail(exc)


def _files_crs(models: list[Path]) -> str:
    """The projected CRS the first file declares (IfcProjectedCRS), when neither --crs, --city nor a config
    names one."""
    from cim.georef.resolve import declared_crs
    from cim.ifc.reader import open_ifc

    for path in models:
        found = declared_crs(open_ifc(path).file, path) if path.is_file() else None
        if found:
            return found
    raise CimError(None, "no CRS to check the files in: none of them declares a projected CRS",
                   "pass --crs EPSG:NNNN (the CRS their placements are in), --city STORE or --config cim.toml")


def _project_name(cfg, city_store, models: list[Path]) -> str:
    """The BCF project of a one-off check: the city (config, else the --city store's), else the files' names."""
    from cim.clash.header import city_name

    if cfg is not None:
        return cfg.name
    if city_store is not None:
        return city_name(city_store, None)
    return ", ".join(m.name for m in models)


@app.command()
def files(
    models: Annotated[list[Path], typer.Argument(help="IFC files to check, within and between each other.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for clashes.json and clashes.bcfzip.")],
    rules: RulesOpt = None,
    rule: Annotated[list[str] | None, typer.Option("--rule", help="Run only this rule (repeatable).")] = None,
    city: Annotated[Path | None, typer.Option("--city", help="City store: also check the tunnel and pipeline "
                                                             "protection zones.")] = None,
    config: ConfigOpt = None,
    crs: Annotated[str | None, typer.Option("--crs", help="CRS the files are georeferenced into (default: the "
                                                          "--city store's, else the config's, else the one the "
                                                          "first file declares); e.g. EPSG:32610.")]
    = None,
    bcf_version: BcfVersionOpt = BcfVersion.v2_1,
):
    """Check IFC files without adding them to the store (a scratch copy is used). Exit 1 when clashes."""
    from cim.clash.adhoc import check_files
    from cim.clash.export import write_bcf, write_json
    from cim.clash.rules import load_rules
    from cim.config import default_config
    from cim.store import Store

    console, out = _console()
    try:
        city_store = Store(city, create=False) if city else None
        cfg = _config(config)
        project = _project_name(cfg, city_store, models)
        city_crs = crs or (city_store.crs if city_store else None) or (cfg.crs if cfg else None) or _files_crs(models)
        if city_store is not None and crs and city_store.crs != crs:
            raise CimError(city, f"the city store's CRS is {city_store.crs}, not {crs}", "drop --crs or --city")
        if cfg is None or cfg.crs != city_crs:
            cfg = default_config(city_crs, "plan") if cfg is None else dataclasses.replace(cfg, crs=city_crs)
        with console.status(f"checking {len(models)} model(s)..."):
            result = check_files(models, load_rules(rules, rule), cfg, city_store)
        paths = [write_json(result.rows, out_dir / "clashes.json", result.summary),
                 write_bcf(result.rows, out_dir / "clashes.bcfzip", project_name=project,
                           meshes=lambda keys: {k: result.meshes[k] for k in keys if k in result.meshes},
                           frames=result.frames, files=result.files, version=bcf_version.value)]
    except CimError as exc:
        _fail(exc)
    from rich.table import Table

    table = Table("rule", "mode", "A", "B", "depth/distance m", "storey")
    for r in result.rows:
        measure = r["depth_m"] if r["depth_m"] is not None else r["distance_m"]
        table.add_row(*map(_plain, (r["rule"], r["mode"], f"{r['a_class']} {r['a_name'] or ''}",
                                    f"{r['b_class']} {r['b_name'] or ''}", "" if measure is None else f"{measure:.3f}",
                                    r["a_storey"] or r["b_storey"] or "")))
    out.print(table)
    for path in paths:
        _say(path)
    raise typer.Exit(1 if result.rows else 0)
