"""Object-store URIs other than s3:// are refused with one line before anything is written, and the nightly flow
(which needs a folder) refuses s3:// too (see cim.store.location; s3:// itself: tests/test_store_s3.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cim.cli import app
from cim.errors import StoreError
from cim.store import Store

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.mark.parametrize("args", [["query", "SELECT 1"], ["tables"],
                                  ["ingest", str(ROOT / "sample_models" / "city.gpkg"), "--crs", "EPSG:4549"]])
def test_a_gcs_store_is_refused_by_the_commands_with_one_line_and_nothing_written(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [*args, "--store", "gs://city-bucket/city"])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "gs://city-bucket/city: a store at an object-store URI (gs://) is not supported yet" in line
    assert "s3://BUCKET/FOLDER" in line
    assert list(tmp_path.iterdir()) == []  # no "gs:" folder made by a Path that took the URI for a folder


def test_the_nightly_flow_refuses_an_s3_store_before_starting(tmp_path):
    done = subprocess.run([sys.executable, "-m", "flows.nightly", "run", "--store", "s3://city-bucket/city",
                           "--config", str(ROOT / "sample_models" / "cim.toml")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})
    assert done.returncode == 2 and "object-store URI" in done.stderr and "Prefect UI" not in done.stderr
    assert "needs a store in a folder" in done.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("s3")]


def test_the_store_class_refuses_other_object_store_schemes_too(tmp_path):
    for uri in ("gs://bucket/city", "az://container/city", "abfss://c@acct.dfs.core.windows.net/city"):
        with pytest.raises(StoreError, match="object-store URI"):
            Store(uri, "EPSG:4549")
    assert Store(tmp_path / "local", "EPSG:4549").crs == "EPSG:4549"  # a folder still works


def test_cim_view_refuses_an_s3_store_in_one_line_because_its_tiles_cache_lives_in_the_store(tmp_path,
                                                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["view", "--store", "s3://city-bucket/city"])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "s3://city-bucket/city: cim view (its 3D Tiles cache lives in the store folder) needs a store in a " \
           "folder" in line
    assert list(tmp_path.iterdir()) == []
