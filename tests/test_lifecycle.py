"""Stage gates and the lifecycle record: the sample building walked plan -> design -> as-built -> handover.

One small store (the city's GIS layers and the tunnel, then scheme A's versions) is walked once per module;
bad-input tests work on copies of the store taken before the walk, so each starts from a known stage.
"""

from __future__ import annotations

import dataclasses
import shutil
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from cim.cli import app
from cim.config import load_config
from cim.lifecycle import order
from cim.lifecycle.completion import completion_gate
from cim.lifecycle.design import design_gate
from cim.lifecycle.gate import ingest_version
from cim.lifecycle.handover import handover_gate
from cim.lifecycle.record import Decision, GateRefused, append, current, history, sha256_file
from cim.store import Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"
MODEL = "submission-compliant"
PLAN_IFC = SAMPLES / "submissions" / "compliant.ifc"
LIFE = SAMPLES / "lifecycle"
EXPECTED = tomllib.loads((LIFE / "expected.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def config():
    return load_config(SAMPLES / "cim.toml")


@pytest.fixture(scope="module")
def city(tmp_path_factory, config):
    """The city's GIS layers and the utility tunnel: what a review and the zone checks need."""
    from cim.ingest.run import ingest_file

    root = tmp_path_factory.mktemp("lifecycle-city") / "store"
    store = Store(root, config.crs)
    for path in (SAMPLES / "city.gpkg", SAMPLES / "tunnel" / "utility_tunnel.ifc"):
        assert ingest_file(store, config, path, workers=2).action == "ingested"
    return root


@pytest.fixture(scope="module")
def base(city, tmp_path_factory, config):
    """The city and scheme A's plan (v1) accepted: the stage every gate test starts from."""
    root = tmp_path_factory.mktemp("lifecycle") / "store"
    shutil.copytree(city, root)
    store = Store(root)
    assert ingest_version(store, config, MODEL, PLAN_IFC, phase="plan") == 1
    report = root.parent / "plan-report.json"
    report.write_text('{"verdict": "pass"}\n', encoding="utf-8")
    append(store, Decision(MODEL, 1, "plan", True, report, note="planning review passed", by="test"))
    return root


def _copy(base: Path, tmp_path: Path) -> Store:
    shutil.copytree(base, tmp_path / "store")
    return Store(tmp_path / "store")


def _rows(store: Store) -> int:
    return len(history(store, MODEL))


@pytest.fixture(scope="module")
def walk(base, tmp_path_factory, config):
    """Design, the unacceptable as-built, the acceptable one, handover: each gate's result, in order."""
    root = tmp_path_factory.mktemp("walk")
    shutil.copytree(base, root / "store")
    store = Store(root / "store")
    out = root / "reports"
    results = {"design": design_gate(store, config, MODEL, ifc=LIFE / "design.ifc", out=out / "design", by="t")}
    results["bad"] = completion_gate(store, config, MODEL, ifc=LIFE / "as_built_bad.ifc", out=out / "bad")
    with pytest.raises(GateRefused, match="failed its completion check"):  # never promoted after a failure
        handover_gate(store, config, MODEL, out=out / "refused")
    results["refused_rows"] = _rows(store)
    results["ok"] = completion_gate(store, config, MODEL, ifc=LIFE / "as_built_ok.ifc", out=out / "ok")
    results["handover"] = handover_gate(store, config, MODEL, out=out / "handover")
    return store, results, out


def test_the_completion_check_fails_the_unacceptable_as_built_on_exactly_its_deviations(walk):
    _store, results, _ = walk
    bad = results["bad"]
    assert bad.exit_code == 1 and not bad.passed
    assert bad.report["failed"] == EXPECTED["as_built_bad"]["fails"] == ["height", "footprint", "gfa"]
    measured = {i["indicator"]: i for i in bad.report["indicators"]}
    for name, expected in EXPECTED["as_built_bad"]["deviations"].items():
        assert measured[name]["deviation"] == pytest.approx(expected["deviation"], abs=0.02), name
        assert measured[name]["status"] == ("pass" if expected["passes"] else "fail"), name
    assert {z["check"]: z["status"] for z in bad.report["zones"]} == {"tunnel_protection": "pass",
                                                                       "pipelines": "pass"}
    assert bad.row["stage"] == "completion_failed" and bad.row["against_version"] == 1


def test_the_completion_check_passes_the_acceptable_as_built(walk):
    _store, results, _ = walk
    ok = results["ok"]
    assert ok.exit_code == 0 and ok.report["failed"] == [] == EXPECTED["as_built_ok"]["fails"]
    height = next(i for i in ok.report["indicators"] if i["indicator"] == "height")
    assert height["deviation"] == pytest.approx(0.2, abs=0.02) and height["tolerance"] == 0.3
    assert ok.row["stage"] == "completion_passed" and ok.report["approved_version"] == 1


def test_the_design_gate_passes_the_construction_drawing_model_with_fire_ratings(walk):
    _store, results, _ = walk
    design = results["design"]
    assert design.passed and design.report["ids"]["status"] == "pass" and design.report["clashes"]["open"] == []
    assert design.row["stage"] == "design_reviewed" and design.row["phase"] == "build"


def test_the_lifecycle_table_records_each_gate_with_evidence_hashes_that_match_the_files(walk):
    store, results, _ = walk
    rows = history(store, MODEL)
    assert [(r["stage"], r["decision"], r["version"]) for r in rows] == [
        ("plan_approved", "pass", 1), ("design_reviewed", "pass", 2), ("completion_failed", "fail", 3),
        ("completion_passed", "pass", 4), ("handed_over", "pass", 4)]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    for row in rows:
        assert sha256_file(Path(row["evidence_path"])) == row["evidence_sha256"]
    assert Path(rows[-1]["evidence_path"]) == results["handover"].report_path.resolve()
    assert current(store, MODEL)["stage"] == "handed_over"


def test_a_handed_over_version_is_phase_manage_and_models_keeps_its_history(walk):
    store, results, _ = walk
    assert results["handover"].passed and results["handover"].report["completeness"] == 1.0
    assert current(store, MODEL)["phase"] == "manage"
    phases = {r["version"]: r["phase"] for r in store.read("models", filters=[("model_id", "=", MODEL)]).to_pylist()}
    assert phases == {1: "plan", 2: "build", 3: "build", 4: "build"}  # models is never rewritten


def test_a_gate_never_promotes_a_model_that_failed(walk, base, tmp_path, config):
    _store, results, _ = walk
    assert results["refused_rows"] == 3  # the refused handover after the failed completion wrote nothing
    store = _copy(base, tmp_path)
    failed = design_gate(store, config, MODEL, version=1, out=tmp_path / "d")  # the plan has no fire ratings
    assert not failed.passed and "fire rating" in failed.report["ids"]["message"]
    before = store.table_version("models"), _rows(store)
    with pytest.raises(GateRefused, match="failed its design review") as refused:
        completion_gate(store, config, MODEL, ifc=LIFE / "as_built_ok.ifc", out=tmp_path / "c")
    assert "cim gate design" in refused.value.one_line()
    assert (store.table_version("models"), _rows(store)) == before  # no ingest, no row


@pytest.mark.parametrize(("case", "message"), [
    ("one_version", "nothing to compare"),
    ("missing_version", "has no version 7"),
    ("no_plan", "no approved plan on record"),
    ("other_schema", "the approved plan of 'submission-compliant' is IFC4"),
    ("twice", "already judged this file"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(base, tmp_path, config, case, message):
    store = _copy(base, tmp_path)
    approve = tmp_path / "r.json"
    approve.write_text("{}", encoding="utf-8")
    append(store, Decision(MODEL, 1, "design", True, approve, by="t"))  # design accepted on the plan itself
    model, args = MODEL, [f"--ifc={LIFE / 'as_built_ok.ifc'}"]
    if case == "one_version":
        args = []
    elif case == "missing_version":
        args = ["--version=7"]
    elif case == "no_plan":
        model = "tunnel-binhai"  # stored, but no plan was ever approved for it
    elif case == "other_schema":
        args = [f"--ifc={SAMPLES / 'buildings' / 'residential_block_b_ifc2x3.ifc'}"]
    elif case == "twice":
        completion_gate(store, config, MODEL, ifc=LIFE / "as_built_ok.ifc", out=tmp_path / "first")
    before = store.table_version("models"), len(history(store))
    result = CliRunner().invoke(app, ["gate", "completion", model, f"--store={store.root}",
                                      f"--config={SAMPLES / 'cim.toml'}", f"--out={tmp_path / 'out'}", *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in " ".join(result.output.split())
    assert (store.table_version("models"), len(history(store))) == before
    assert not (tmp_path / "out").exists()


def test_cim_lifecycle_prints_the_history_and_the_current_stage(walk):
    store, _results, _ = walk
    result = CliRunner().invoke(app, ["lifecycle", MODEL, f"--store={store.root}"])
    assert result.exit_code == 0, result.output
    assert "current stage handed_over (phase manage)" in result.output
    for stage in ("plan_approved", "design_reviewed", "completion_failed", "completion_passed", "handed_over"):
        assert stage in result.output
    missing = CliRunner().invoke(app, ["lifecycle", "no-such-model", f"--store={store.root}"])
    assert missing.exit_code == 2 and "cim review PLAN.ifc --accept" in missing.output


def test_a_handover_below_the_threshold_fails_and_leaves_the_model_in_build(base, tmp_path, config):
    store = _copy(base, tmp_path)
    report = tmp_path / "r.json"
    report.write_text("{}", encoding="utf-8")
    append(store, Decision(MODEL, 1, "design", True, report, by="t"))
    strict = dataclasses.replace(config, lifecycle=dataclasses.replace(config.lifecycle, tolerances={
        **config.lifecycle.tolerances, "height_m": 0.5}))
    # the design model passes completion (same geometry) but carries no asset data
    done = completion_gate(store, strict, MODEL, ifc=LIFE / "design.ifc", out=tmp_path / "c")
    assert done.passed
    result = handover_gate(store, config, MODEL, out=tmp_path / "h")
    assert not result.passed and result.report["completeness"] < 0.95
    assert current(store, MODEL)["stage"] == "handover_failed" and current(store, MODEL)["phase"] == "build"
    with pytest.raises(GateRefused, match="already decided"):
        handover_gate(store, config, MODEL, out=tmp_path / "h2")


def test_a_design_review_of_a_model_without_an_approved_plan_says_to_accept_the_plan_first(base):
    store = Store(base, create=False)  # read only: a refusal writes nothing
    with pytest.raises(GateRefused, match="no approved plan on record") as refused:
        order.require(store, "nobody", "design")
    assert "cim review PLAN.ifc --accept" in refused.value.one_line()


def test_review_accept_records_the_plan_decision_with_its_report_as_evidence(city, tmp_path):
    from cim.lifecycle.plan import record_review

    store = _copy(city, tmp_path)
    args = [f"--store={store.root}", f"--config={SAMPLES / 'cim.toml'}", "--accept"]
    first = CliRunner().invoke(app, ["review", str(PLAN_IFC), f"--out={tmp_path / 'plan'}", *args])
    assert first.exit_code == 0, first.output
    (row,) = history(store, MODEL)
    assert (row["stage"], row["decision"], row["version"], row["phase"]) == ("plan_approved", "pass", 1, "plan")
    assert row["evidence_path"] == str((tmp_path / "plan" / "report.json").resolve())
    assert row["evidence_sha256"] == sha256_file(tmp_path / "plan" / "report.json")
    # the same file accepted again (the ingest finds it unchanged): the plan gate does not run twice
    again = SimpleNamespace(exit_code=0, model_id=MODEL, checks=[],
                            quantities={"accepted": {"action": "unchanged", "versions": []}})
    with pytest.raises(GateRefused, match="already decided v1"):
        record_review(store, again, tmp_path / "plan" / "report.json")
    assert len(history(store, MODEL)) == 1


def test_a_failed_plan_is_only_submitted_until_a_planner_overrides_it_with_a_reason(base, tmp_path):
    from cim.lifecycle.plan import record_review

    store = _copy(base, tmp_path)
    model = "submission-violating"
    ingest_version(store, load_config(SAMPLES / "cim.toml"), model, SAMPLES / "submissions" / "violating.ifc",
                   phase="plan")
    report = tmp_path / "report.json"
    report.write_text('{"verdict": "fail"}\n', encoding="utf-8")
    failed = SimpleNamespace(exit_code=1, model_id=model, checks=[SimpleNamespace(check_id="height", status="fail")],
                             quantities={"accepted": {"action": "ingested", "versions": [1]}})
    assert record_review(store, failed, report)["stage"] == "plan_submitted"
    with pytest.raises(GateRefused, match="no approved plan on record"):
        order.require(store, model, "design")
    empty = CliRunner().invoke(app, ["gate", "plan", model, "--override", " ", f"--store={store.root}"])
    assert empty.exit_code == 2 and len(history(store, model)) == 1
    done = CliRunner().invoke(app, ["gate", "plan", model, "--override", "height agreed by the city council",
                                    "--by", "planner", f"--store={store.root}"])
    assert done.exit_code == 0, done.output
    row = current(store, model)
    assert (row["stage"], row["decision"], row["by"]) == ("plan_approved", "override", "planner")
    assert "height agreed" in row["note"] and row["evidence_sha256"] == sha256_file(report)


def test_the_nightly_stage_inbox_runs_the_gate_a_file_calls_for_once(base, tmp_path):
    from cim.inbox import discover
    from cim.lifecycle.inbox import pending, run_job

    store = _copy(base, tmp_path)
    (tmp_path / "cim.toml").write_text('[city]\ncrs = "EPSG:4549"\nground_elevation_m = 5.0\ninbox = ["."]\n'
                                       '[lifecycle]\ninbox = "stages"\n', encoding="utf-8")
    (tmp_path / "stages" / "design").mkdir(parents=True)
    shutil.copy(LIFE / "design.ifc", tmp_path / "stages" / "design" / f"{MODEL}.ifc")
    cfg = load_config(tmp_path / "cim.toml")
    assert not [p for p in discover(cfg) if "stages" in p.parts]  # the city ingest leaves stage files alone
    (job,) = pending(cfg)
    assert (job.gate, job.model_id) == ("design", MODEL)
    line = run_job(store, cfg, job)
    assert line is not None and line.startswith(f"gate design {MODEL} v2: pass")
    report = Path(line.rsplit("; ", 1)[1])
    assert report.is_file() and report.is_relative_to(Path(store.root) / "gates")  # evidence beside the store
    assert run_job(store, cfg, job) is None  # judged once; the next night skips it
    assert [r["stage"] for r in history(store, MODEL)] == ["plan_approved", "design_reviewed"]


def test_a_bad_lifecycle_tolerance_in_the_config_is_refused_in_one_line(tmp_path):
    from cim.errors import ConfigError

    (tmp_path / "cim.toml").write_text('[city]\ncrs = "EPSG:4549"\n[lifecycle]\nheight_m = -1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[lifecycle\] height_m = -1 is not a non-negative number"):
        load_config(tmp_path / "cim.toml")


def test_the_completion_report_lists_the_elements_that_differ_from_the_approved_plan(walk):
    _store, results, _ = walk
    section = results["bad"].report["element_diff"]
    assert section["from_version"] == 1 and section["to_version"] == results["bad"].row["version"]
    by_change: dict[str, set] = {}
    for c in section["changes"]:
        by_change.setdefault(c["change"], set()).add(c["global_id"])
    assert by_change and {k: len(v) for k, v in by_change.items()} == {
        k: n for k, n in section["counts"].items() if k != "unchanged" and n}
    assert {c["change"] for c in section["changes"]} <= {"added", "removed", "moved", "reshaped",
                                                          "properties_changed", "reclassified"}


def test_the_design_gate_accepts_the_clashes_that_remain_only_when_each_is_approved_by_name(base, tmp_path, config):
    from cim.lifecycle.design import clash_section

    store = _copy(base, tmp_path)
    model = "submission-violating"  # an internal duct-beam clash and a basement in the tunnel's protection zone
    ingest_version(store, config, model, SAMPLES / "submissions" / "violating.ifc", phase="plan")
    report = tmp_path / "r.json"
    report.write_text("{}", encoding="utf-8")
    append(store, Decision(model, 1, "plan", False, report, note="override: test", by="t", override=True))
    version = order.pick_version(store, model, 1)
    found = clash_section(store, config, model, version, None, set())
    ids = [i["clash_id"] for i in found["items"]]
    assert {i["check"] for i in found["items"]} >= {"internal_clash", "tunnel_protection"}
    assert found["open"] == ids and found["approved"] == 0
    partly = clash_section(store, config, model, version, None, {ids[0], "no-such-clash"})
    assert partly["open"] == ids[1:] and partly["approvals_matching_no_clash"] == ["no-such-clash"]
    result = design_gate(store, config, model, version=1, approve=tuple(ids), out=tmp_path / "d")
    assert result.report["failed"] == ["ids"]  # every clash approved by name; only the missing fire ratings fail
    assert result.report["clashes"]["open"] == [] and "approved clashes: " in result.row["note"]


def test_a_tunnel_is_handed_over_on_its_register_quality_flags_and_refused_without_a_register(base):
    from cim.lifecycle.handover import completeness, tunnel_completeness

    flagged = tunnel_completeness([{"quality_flags": ["missing_tag", "missing_owner"]}, {"quality_flags": []}])
    assert flagged["completeness"] == round(1 - 2 / 24, 4) and flagged["missing_by_field"]["missing_tag"] == 1
    with pytest.raises(GateRefused, match="cim tunnel tunnel-binhai"):
        completeness(Store(base, create=False), "tunnel-binhai", 1)  # ingested without its checks: no register
