"""`cim clash`: files checked without a store, between models; the store's check, list, approval and export."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cim.cli import app
from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.store import Store
from tests.models import add_wall, new_model, write

runner = CliRunner()


def _model(path, name, start):
    f, ctx = new_model()
    add_wall(f, ctx, name=name, start=start)
    return write(f, path)


def test_two_models_whose_walls_overlap_clash_between_models(tmp_path):
    a = _model(tmp_path / "architecture.ifc", "wall A", (0.0, 0.0, 0.0))
    b = _model(tmp_path / "structure.ifc", "wall B", (2.0, 0.0, 0.0))
    result = runner.invoke(app, ["clash", "files", str(a), str(b), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    clashes = json.loads((tmp_path / "out" / "clashes.json").read_text())["clashes"]
    assert [(c["rule"], c["mode"]) for c in clashes] == [("between-models", "hard")]
    assert {c["a_model"] for c in clashes} | {c["b_model"] for c in clashes} == {"architecture", "structure"}
    assert clashes[0]["depth_m"] > 0.19  # the walls share 3 m of their length, 0.2 m thick
    assert (tmp_path / "out" / "clashes.bcfzip").stat().st_size > 0


def test_models_apart_have_no_clash_and_exit_0(tmp_path):
    a = _model(tmp_path / "a.ifc", "wall A", (0.0, 0.0, 0.0))
    b = _model(tmp_path / "b.ifc", "wall B", (0.0, 5.0, 0.0))
    result = runner.invoke(app, ["clash", "files", str(a), str(b), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output


def test_the_store_check_lists_approves_and_exports(tmp_path):
    store = Store(tmp_path / "store", "EPSG:4549")
    f, ctx = new_model()
    add_wall(f, ctx, name="wall A")
    add_wall(f, ctx, name="wall A copy")
    ingest_file(store, default_config("EPSG:4549", "plan"), write(f, tmp_path / "m.ifc"))
    check = runner.invoke(app, ["clash", "check", "--store", str(store.root), "--out", str(tmp_path / "x")])
    assert check.exit_code == 1, check.output
    listed = json.loads(runner.invoke(app, ["clash", "list", "--store", str(store.root), "--json"]).stdout)
    (clash,) = listed["clashes"]
    assert clash["mode"] == "duplicate"
    approve = runner.invoke(app, ["clash", "status", clash["clash_id"], "--to", "approved", "--note", "intended",
                                  "--store", str(store.root)])
    assert approve.exit_code == 0, approve.output
    again = runner.invoke(app, ["clash", "check", "--store", str(store.root)])
    assert again.exit_code == 0, again.output  # only approved clashes left
    export = runner.invoke(app, ["clash", "export", str(tmp_path / "e"), "--store", str(store.root)])
    assert export.exit_code == 0 and (tmp_path / "e" / "clashes.bcfzip").exists()
