"""`cim review`: the planners' check of a submitted model against the city."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cim.errors import CimError


def review(
    model: Annotated[Path, typer.Argument(help="The submitted IFC model.")],
    parcel: Annotated[str | None, typer.Option("--parcel", help="Parcel id (default: found from the model's "
                                                                "position).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output folder (default review/<model name>).")] = None,
    store: Annotated[Path, typer.Option("--store", envvar="CIM_STORE", help="The city store (read only).")] = Path(
        "cim-data"),
    rules: Annotated[Path | None, typer.Option("--rules", help="Clash rules (default schemas/clash_rules.toml)."
                                               )] = None,
    config: Annotated[Path | None, typer.Option("--config", envvar="CIM_CONFIG",
                                                help="City config (ground elevation); default ./cim.toml, else "
                                                     "sample_models/cim.toml.")] = None,
    accept: Annotated[bool, typer.Option(help="Also ingest the model into the city store as a plan-phase "
                                              "version.")] = False,
):
    """Check a submission: validity, georeferencing, parcel, setbacks, height, FAR, coverage, neighbours,
    tunnel and pipelines, internal clashes. Writes report.html, report.json and clashes.bcfzip.
    Exit 0 when every check passes, 1 when some fail, 2 when the model could not be reviewed."""
    from cim.cli import console, out, plain, say
    from cim.config import load_config
    from cim.review.output import write_outputs
    from cim.review.run import error_review, output_dir, prepare_output_dir, review_model
    from cim.store import Store

    try:  # before the review: a bad --out is a usage error (exit 2, one line), found in a second, not minutes
        folder = prepare_output_dir(output_dir(model, out_dir))
    except CimError as exc:
        console.print(f"[bold red]error:[/] {plain(exc.one_line())}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    extra: dict = {}
    try:
        city = Store(store, create=False)
        cfg_path = config or next((p for p in (Path("cim.toml"), Path("sample_models/cim.toml")) if p.exists()), None)
        if cfg_path is None:
            raise CimError(None, "no city config found", "pass --config cim.toml")
        cfg = load_config(cfg_path)
        with console.status(f"reviewing {plain(model.name)}..."):
            result, extra = review_model(model, city, cfg, parcel_id=parcel, rules_path=rules, accept=accept,
                                         workers=2)
    except CimError as exc:
        result = error_review(model, exc.one_line())
    try:
        paths = write_outputs(result, extra, folder)
    except (CimError, OSError) as exc:  # e.g. the folder removed or the disk full during the review
        line = exc.one_line() if isinstance(exc, CimError) else f"{folder}: cannot write the report: {exc}"
        console.print(f"[bold red]error:[/] {plain(line)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    _print(out, result)
    for path in paths:
        say(path)
    if accept and result.exit_code in (0, 1):  # the plan gate's lifecycle row (cim.lifecycle.plan)
        _record_plan(city, result, [p for p in paths if Path(p).name == "report.json"])
    if result.exit_code == 2:
        console.print(f"[bold red]could not review:[/] {plain(result.reason)}", highlight=False, soft_wrap=True)
    raise typer.Exit(result.exit_code)


def _print(out, result) -> None:
    from rich.table import Table

    from cim.cli import plain

    table = Table("check", "measured", "allowed", "result", "finding", title=plain(
        f"{result.verdict.upper()}: {Path(result.model_path).name}"
        + (f", parcel {result.parcel_id}" if result.parcel_id else "")))
    colour = {"pass": "green", "fail": "red", "not_applicable": "dim"}
    for c in result.checks:
        table.add_row(plain(c.check_id), plain("" if c.measured is None else c.measured),
                      plain("" if c.allowed is None else f"{c.comparison or ''} {c.allowed}"),
                      f"[{colour.get(c.status, 'white')}]{plain(c.status)}[/]", plain(c.message))
    out.print(table)
    if result.revision:
        out.print(plain(f"This submission is a {result.revision['message']}."), highlight=False, soft_wrap=True)


def _record_plan(city, result, reports: list) -> None:
    from cim.cli import console, plain
    from cim.lifecycle.plan import record_review

    try:
        row = record_review(city, result, Path(reports[0]))
    except CimError as exc:
        console.print(f"[bold red]error:[/] {plain(exc.one_line())}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    if row is not None:
        console.print(f"lifecycle: {plain(row['model_id'])} v{row['version']} {plain(row['stage'])}", highlight=False)
