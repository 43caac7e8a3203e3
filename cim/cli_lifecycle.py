"""`cim lifecycle MODEL_ID` (a model's history of stage gates) and `cim gate plan|design|completion|handover`.

Every gate exits 0 when it passes, 1 when it fails (both write a report and a lifecycle row) and 2 when it
may not run (wrong order, run twice, missing version or plan): one line saying what is missing and what to
run first, and nothing written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cim.errors import CimError

gate_app = typer.Typer(help="Stage gates: design review, completion check, handover (and plan overrides).",
                       no_args_is_help=True)

StoreOpt = Annotated[Path, typer.Option("--store", envvar="CIM_STORE", help="The city store.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", envvar="CIM_CONFIG",
                                                help="City config; default ./cim.toml, else sample_models/cim.toml.")]
IfcOpt = Annotated[Path | None, typer.Option("--ifc", help="Ingest this file as the model's next version (phase "
                                                           "build) and judge it.")]
VersionOpt = Annotated[int | None, typer.Option("--version", help="Judge this stored version (default: the latest).")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Report folder (default gates/<model>/v<N>-<gate>).")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who decides (default: the login name).")]
RulesOpt = Annotated[Path | None, typer.Option("--rules", help="Clash rules (default schemas/clash_rules.toml).")]
DEFAULT_STORE = Path("cim-data")


def _fail(exc: CimError) -> None:
    from cim.cli import console, plain

    console.print(f"[bold red]error:[/] {plain(exc.one_line())}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _config(path: Path | None):
    from cim.config import load_config

    found = path or next((p for p in (Path("cim.toml"), Path("sample_models/cim.toml")) if p.exists()), None)
    if found is None:
        raise CimError(None, "no city config found", "pass --config cim.toml")
    return load_config(found)


def _store(path: Path):
    from cim.store import Store

    return Store(path, create=False)


def _finish(result) -> None:
    from cim.cli import out, plain, say

    colour = "green" if result.passed else "red"
    out.print(f"[{colour}]{result.gate} {'PASS' if result.passed else 'FAIL'}[/]: {plain(result.model_id)} "
              f"v{result.version} -> {plain(result.row['stage'])} ({plain(result.row['note'] or '')})",
              highlight=False, soft_wrap=True)
    for item in result.report.get("indicators", []):
        if item["status"] != "not_applicable":
            out.print(f"  {item['indicator']:<17} approved {item['approved']:>12} as-built {item['as_built']:>12} "
                      f"deviation {item['deviation']:>+10} tolerance {item['tolerance']:g}"
                      f"{' (share)' if item['tolerance_is_share'] else ''}  {item['status']}",
                      highlight=False, markup=False)
    say(result.report_path)
    raise typer.Exit(result.exit_code)


def lifecycle(model_id: Annotated[str, typer.Argument(help="The model id (see `cim query \"SELECT * FROM "
                                                           "current_models\"`).")],
              store: StoreOpt = DEFAULT_STORE,
              as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False):
    """A model's lifecycle: every gate decision (stage, pass/fail, who, when, evidence) and its current stage."""
    from rich.table import Table

    from cim.cli import out, plain
    from cim.lifecycle.record import history, verify_evidence

    try:
        rows = history(_store(store), model_id)
    except CimError as exc:
        _fail(exc)
    if not rows:
        _fail(CimError(None, f"no lifecycle record for {model_id!r}",
                       f"accept its plan first: cim review PLAN.ifc --accept (model id {model_id})"))
    if as_json:
        print(json.dumps(rows, indent=2, default=str, ensure_ascii=False))
        raise typer.Exit(0)
    table = Table("seq", "version", "stage", "decision", "phase", "by", "at (UTC)", "evidence", "note",
                  title=plain(f"{model_id}: current stage {rows[-1]['stage']} (phase {rows[-1]['phase']})"))
    for r in rows:
        ok = verify_evidence(r)
        table.add_row(str(r["seq"]), f"v{r['version']}", plain(r["stage"]), plain(r["decision"]), plain(r["phase"]),
                      plain(r["by"]), f"{r['at']:%Y-%m-%d %H:%M}",
                      plain(f"{r['evidence_sha256'][:12]} {'ok' if ok else 'CHANGED OR GONE'}"), plain(r["note"]))
    out.print(table)


@gate_app.command("design")
def design(model_id: Annotated[str, typer.Argument(help="The model id of the approved plan.")],
           ifc: IfcOpt = None, version: VersionOpt = None, store: StoreOpt = DEFAULT_STORE, config: ConfigOpt = None,
           rules: RulesOpt = None, out: OutOpt = None, by: ByOpt = None,
           approve: Annotated[list[str] | None, typer.Option("--approve", help="A clash_id that may remain "
                                                                                 "(repeat).")] = None):
    """Design (施工图/BIM) review: the build-phase IDS and the clash rules, remaining clashes approved by name."""
    from cim.lifecycle.design import design_gate

    try:
        result = design_gate(_store(store), _config(config), model_id, ifc=ifc, version=version, out=out, by=by,
                             rules_path=rules, approve=tuple(approve or ()))
    except CimError as exc:
        _fail(exc)
    _finish(result)


@gate_app.command("completion")
def completion(model_id: Annotated[str, typer.Argument(help="The model id of the approved plan.")],
               ifc: IfcOpt = None, version: VersionOpt = None, store: StoreOpt = DEFAULT_STORE,
               config: ConfigOpt = None, rules: RulesOpt = None, out: OutOpt = None, by: ByOpt = None):
    """Completion check (竣工): the as-built against the approved plan, each indicator within its tolerance."""
    from cim.lifecycle.completion import completion_gate

    try:
        result = completion_gate(_store(store), _config(config), model_id, ifc=ifc, version=version, out=out,
                                 by=by, rules_path=rules)
    except CimError as exc:
        _fail(exc)
    _finish(result)


@gate_app.command("handover")
def handover(model_id: Annotated[str, typer.Argument(help="The model id.")], version: VersionOpt = None,
             store: StoreOpt = DEFAULT_STORE, config: ConfigOpt = None, out: OutOpt = None, by: ByOpt = None):
    """Handover (移交): asset data complete enough to operate; on pass the version's phase becomes manage."""
    from cim.lifecycle.handover import handover_gate

    try:
        result = handover_gate(_store(store), _config(config), model_id, version=version, out=out, by=by)
    except CimError as exc:
        _fail(exc)
    _finish(result)


@gate_app.command("plan")
def plan(model_id: Annotated[str, typer.Argument(help="The model id of the submitted plan.")],
         override: Annotated[str, typer.Option("--override", help="Why the plan is approved although its review "
                                                                  "failed.")],
         version: VersionOpt = None, store: StoreOpt = DEFAULT_STORE, by: ByOpt = None,
         report: Annotated[Path | None, typer.Option("--report", help="The review's report.json (default: the one "
                                                                      "on record).")] = None):
    """Approve a submitted plan whose review failed, with a reason (plan_approved, decision override)."""
    from cim.cli import out, plain
    from cim.lifecycle.plan import override as approve_plan

    try:
        row = approve_plan(_store(store), model_id, override, version=version, by=by, report=report)
    except CimError as exc:
        _fail(exc)
    out.print(f"plan OVERRIDE: {plain(model_id)} v{row['version']} -> plan_approved ({plain(row['note'])})",
              highlight=False)


def register(app: typer.Typer) -> None:
    """Add `cim lifecycle` and `cim gate ...` to the main app."""
    app.command("lifecycle")(lifecycle)
    app.add_typer(gate_app, name="gate")
