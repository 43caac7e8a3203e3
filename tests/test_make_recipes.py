"""`make query`, `make review` and `make clash` with hostile values: no value is ever run as a command.

Each test runs the real `make -s <target> ...` in a subprocess with values holding backticks, $(...), quotes,
semicolons, newlines and make functions that would each create a marker file if any shell (or make) parsed
them, then asserts that no marker exists and that the value reached `cim` as text.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cim.store import Store

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)
CIM = VENV / "bin" / "cim"
pytestmark = pytest.mark.skipif(shutil.which("make") is None or not CIM.exists(), reason="needs make and bin/cim")


def hostile(marker: Path | str) -> list[str]:
    """Values that each create ``marker`` when parsed by a shell or expanded by make."""
    m = str(marker)
    return [f"`touch {m}`", f"$(touch {m})", f"'; touch {m}; '", f'"; touch {m}; "', f"x\ntouch {m}\n",
            f"a b; touch {m} #", f"$(shell touch {m})", f"' `touch {m}` \" $(touch {m}) \\"]


def make(target: str, tmp: Path, **values: str) -> subprocess.CompletedProcess:
    """`make -s target NAME=value ...` as the argv list a user's shell would build; never reinstalls."""
    args = ["make", "-s", "-C", str(ROOT), "-o", f"{VENV}/.installed", f"VENV={VENV}", target]
    args += [f"{k}={v}" for k, v in values.items()]
    env = {**os.environ, "COLUMNS": "1000", "HOME": str(tmp)}
    return subprocess.run(args, capture_output=True, text=True, timeout=600, env=env, cwd=tmp)


def ran_in_project() -> bool:
    """The hostile store folder's own commands would run in the project folder (make -C)."""
    return any((ROOT / name).exists() for name in ("pwned-store", "pwned-store2", "pwned-path"))


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory) -> Path:
    """An empty but real store in a folder whose name is itself hostile."""
    folder = tmp_path_factory.mktemp("make") / "st `touch pwned-store` $(touch pwned-store2); x"
    Store(folder, "EPSG:4549")
    return folder


def test_hostile_sql_in_make_query_reaches_cim_as_text_and_runs_nothing(tmp_path: Path, hostile_store: Path) -> None:
    marker = tmp_path / "pwned"
    values = hostile(marker)
    literals = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    sql = f"SELECT md5(concat_ws('|', {literals})) AS h"

    done = make("query", tmp_path, Q=sql, STORE=str(hostile_store))

    assert not marker.exists() and not ran_in_project(), done.stderr
    assert done.returncode == 0, done.stderr
    assert hashlib.md5("|".join(values).encode()).hexdigest() in done.stdout  # every value came through as is


def test_an_option_given_as_the_sql_of_make_query_is_not_read_as_an_option(tmp_path: Path,
                                                                            hostile_store: Path) -> None:
    done = make("query", tmp_path, Q="--help", STORE=str(hostile_store))

    assert done.returncode == 2 and "Usage" not in done.stdout + done.stderr
    assert "exactly one statement (got 0)" in done.stderr  # DuckDB read it as SQL: a comment


def test_hostile_model_parcel_out_store_and_config_in_make_review_run_nothing(tmp_path: Path,
                                                                              hostile_store: Path) -> None:
    marker = tmp_path / "pwned"
    values, in_names = hostile(marker), hostile("pwned-path")  # file names cannot hold the marker's "/"
    config = tmp_path / f"cfg {in_names[0]}.toml"
    config.write_text('[city]\ncrs = "EPSG:4549"\n')
    out = tmp_path / f"out {in_names[1]} {in_names[2]}"
    model = tmp_path / f"model {in_names[3]} {in_names[7]}.ifc"

    done = make("review", tmp_path, MODEL=str(model), PARCEL=values[4] + values[6], OUT=str(out),
                STORE=str(hostile_store), CONFIG=str(config))

    assert not marker.exists() and not ran_in_project(), done.stderr
    assert done.returncode == 2, done.stderr  # the model does not exist: could not be reviewed
    report = json.loads((out / "report.json").read_text())
    assert report["model_path"] == str(model) and str(hostile_store) in report["reason"]  # both arrived as text


def test_hostile_store_and_config_in_make_clash_run_nothing(tmp_path: Path, hostile_store: Path) -> None:
    marker = tmp_path / "pwned"
    config = tmp_path / f"cfg {hostile('pwned-path')[5]}.toml"
    config.write_text('[city]\ncrs = "EPSG:4549"\n')

    done = make("clash", tmp_path, STORE=str(hostile_store), CONFIG=str(config))

    assert not marker.exists() and not ran_in_project(), done.stderr
    assert "Traceback" not in done.stderr
