"""A store on S3 (s3://bucket/city), against a local S3-compatible server (moto) started on 127.0.0.1.

What users rely on: the same ingest gives the same rows as into a folder, `cim query` reads it, one writer at a
time (a second is refused in one line, a dead writer's lock expires), a bad bucket or a bucket that refuses
writes is one line with exit 2 and nothing written, and a killed commit is rolled back by the next writer.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cim.cli import app
from cim.store import Store
from cim.store.delta import FAULT_ENV
from tests.models import add_wall, new_model, write
from tests.store_harness import parcels

pytest.importorskip("moto.server", reason="moto[server] (dev extra) is not installed")
boto3 = pytest.importorskip("boto3", reason="boto3 (installed with moto) is missing")

ROOT = Path(__file__).resolve().parents[1]
CRS = "EPSG:4549"
runner = CliRunner()
# Columns that record when and by which run a row was written: they differ between any two ingests.
VOLATILE = {"ingested_at", "run_id", "source_path", "source_root", "started_at", "finished_at"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto in server mode on 127.0.0.1 for the whole session; the process is gone afterwards."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)  # noqa: S310 - our own local server
            break
        except OSError:
            if proc.poll() is not None:
                pytest.skip("moto server did not start")
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    """A fresh bucket; the AWS_* variables point cim (deltalake, obstore) and boto3 at the local server."""
    env = {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    bucket = f"city-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """An IFC model and a GIS layer, as files."""
    folder = tmp_path_factory.mktemp("inputs")
    f, ctx = new_model()
    add_wall(f, ctx, name="W1")
    add_wall(f, ctx, name="W2", start=(0.0, 3.0, 0.0))
    return write(f, folder / "block.ifc"), parcels(folder / "parcels.geojson", 4)


def _keys(client, bucket: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def _rows(store: Store) -> dict[str, list[str]]:
    """Every table's rows, without the columns that record when they were written, in a stable order."""
    out = {}
    for name in store.table_names():
        table = store.read(name)
        keep = [c for c in table.column_names if c not in VOLATILE]
        out[name] = sorted(json.dumps(row, sort_keys=True, default=str) for row in table.select(keep).to_pylist())
    return out


def _ingest(store: str, *files: Path) -> object:
    return runner.invoke(app, ["ingest", *map(str, files), "--store", store, "--crs", CRS, "--workers", "1"])


def _one_line(result) -> str:
    (line,) = [line for line in result.output.splitlines() if line.strip()]
    return line


def test_an_ingest_into_s3_gives_the_same_rows_as_the_same_ingest_into_a_folder(s3, inputs, tmp_path):
    client, bucket = s3
    uri = f"s3://{bucket}/city"
    assert _ingest(uri, *inputs).exit_code == 0
    assert _ingest(str(tmp_path / "local"), *inputs).exit_code == 0
    remote, local = Store(uri, create=False), Store(tmp_path / "local", create=False)
    assert remote.table_names() == local.table_names() and "parcels" in remote.table_names()
    assert _rows(remote) == _rows(local)
    assert remote.read("elements").num_rows > 0 and remote.read("parcels").num_rows == 4
    keys = _keys(client, bucket)
    assert "city/_cim/store.json" in keys and not any(k.endswith(("journal.json", "write.lock")) for k in keys)
    assert not (tmp_path / "s3:").exists()  # no local folder taken for the URI


def test_cim_query_reads_an_s3_store_like_a_folder(s3, inputs, tmp_path):
    _, bucket = s3
    uri = f"s3://{bucket}/city"
    assert _ingest(uri, *inputs).exit_code == 0
    assert _ingest(str(tmp_path / "local"), *inputs).exit_code == 0
    sql = "SELECT parcel_id, round(ST_Area(geometry), 3) AS area FROM parcels ORDER BY parcel_id"
    remote = runner.invoke(app, ["query", sql, "--store", uri, "--format", "csv"])
    local = runner.invoke(app, ["query", sql, "--store", str(tmp_path / "local"), "--format", "csv"])
    assert remote.exit_code == 0, remote.output
    assert remote.output == local.output and remote.output.count("\n") == 5
    count = runner.invoke(app, ["query", "SELECT count(*) AS n FROM elements", "--store", uri, "--format", "csv"])
    assert count.output.split() == ["n", str(Store(tmp_path / "local", create=False).read("elements").num_rows)]
    assert "parcels" in runner.invoke(app, ["tables", "--store", uri]).output


def test_a_second_writer_is_refused_in_one_line_while_the_lock_is_held(s3, inputs, monkeypatch):
    client, bucket = s3
    uri = f"s3://{bucket}/city"
    assert _ingest(uri, inputs[1]).exit_code == 0
    holder = Store(uri, create=False)
    before = _keys(client, bucket)
    monkeypatch.setenv("CIM_STORE_LOCK_WAIT_S", "0")
    with holder.lock():
        refused = _ingest(uri, inputs[0])
        assert refused.exit_code == 2
        line = _one_line(refused)
        assert "another cim writer holds the store's lock" in line and f"pid {os.getpid()}" in line
        assert "expires at" in line and "_cim/write.lock" in line
        assert set(_keys(client, bucket)) == {*before, "city/_cim/write.lock"}  # nothing else written
    assert _keys(client, bucket) == before  # the holder's lock went with it
    assert _ingest(uri, inputs[0]).exit_code == 0  # and the same command now runs
    assert Store(uri, create=False).latest("block")["version"] == 1


def test_a_second_writer_waits_for_the_first_instead_of_writing_beside_it(s3, inputs):
    client, bucket = s3
    uri = f"s3://{bucket}/city"
    assert _ingest(uri, inputs[1]).exit_code == 0
    holder = Store(uri, create=False)
    with holder.lock():
        waiting = subprocess.Popen([sys.executable, "-m", "cim.cli", "ingest", str(inputs[0]), "--store", uri,
                                    "--crs", CRS, "--workers", "1"], cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        # it cannot commit while the lock is held: models has only the layer as long as we hold it
        for _ in range(40):
            assert waiting.poll() is None
            assert Store(uri, create=False).latest("block") is None
            time.sleep(0.1)
    out, _ = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, out
    assert Store(uri, create=False).latest("block")["version"] == 1


def test_a_dead_writers_lock_expires_and_the_next_writer_takes_it(s3, inputs, monkeypatch):
    client, bucket = s3
    uri = f"s3://{bucket}/city"
    assert _ingest(uri, inputs[1]).exit_code == 0
    now = datetime.now(UTC)
    dead = {"host": "gone", "pid": 1, "token": "x", "acquired_at": (now - timedelta(hours=1)).isoformat(),
            "expires_at": (now - timedelta(minutes=1)).isoformat()}
    client.put_object(Bucket=bucket, Key="city/_cim/write.lock", Body=json.dumps(dead).encode())
    monkeypatch.setenv("CIM_STORE_LOCK_WAIT_S", "0")
    assert _ingest(uri, inputs[0]).exit_code == 0
    assert "city/_cim/write.lock" not in _keys(client, bucket)
    # a lock that has not expired yet is not taken
    alive = {**dead, "expires_at": (now + timedelta(hours=1)).isoformat()}
    client.put_object(Bucket=bucket, Key="city/_cim/write.lock", Body=json.dumps(alive).encode())
    refused = _ingest(uri, inputs[0], "--force")
    assert refused.exit_code == 2 and "gone pid 1" in _one_line(refused)


def test_a_bad_bucket_is_one_line_naming_the_bucket_and_the_fix_and_nothing_is_written(s3, inputs, tmp_path,
                                                                                       monkeypatch):
    client, _ = s3
    monkeypatch.chdir(tmp_path)
    buckets = sorted(b["Name"] for b in client.list_buckets()["Buckets"])
    for args in (["ingest", *map(str, inputs), "--crs", CRS], ["query", "SELECT 1"], ["tables"]):
        result = runner.invoke(app, [*args, "--store", "s3://no-such-bucket/city"])
        assert result.exit_code == 2
        line = _one_line(result)
        assert "bucket 'no-such-bucket' does not exist" in line and "aws s3 mb s3://no-such-bucket" in line
    assert sorted(b["Name"] for b in client.list_buckets()["Buckets"]) == buckets
    assert list(tmp_path.iterdir()) == []


def _deny_writes(client, bucket: str) -> None:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                                                      "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def test_a_bucket_that_refuses_writes_is_one_line_and_nothing_is_half_written(s3, inputs):
    client, bucket = s3
    uri = f"s3://{bucket}/city"
    _deny_writes(client, bucket)
    new = _ingest(uri, *inputs)
    assert new.exit_code == 2
    line = _one_line(new)
    assert "the object store refused to write (403 Forbidden)" in line and "s3:PutObject" in line
    assert _keys(client, bucket) == []  # a new store: not one object


def test_a_store_whose_bucket_turns_read_only_keeps_every_table_as_it_was(s3, inputs):
    client, bucket = s3
    uri = f"s3://{bucket}/city"
    assert _ingest(uri, inputs[1]).exit_code == 0
    before, rows = _keys(client, bucket), _rows(Store(uri, create=False))
    _deny_writes(client, bucket)
    refused = _ingest(uri, inputs[0])
    assert refused.exit_code == 2 and "refused to write" in _one_line(refused)
    assert _keys(client, bucket) == before
    client.delete_bucket_policy(Bucket=bucket)
    assert _rows(Store(uri, create=False)) == rows


SCRIPT = """
import sys
from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.store import Store
ingest_file(Store(sys.argv[1], "EPSG:4549"), default_config("EPSG:4549"), sys.argv[2], force=True)
"""


@pytest.mark.parametrize("killed_after", ["elements", "layer"])
def test_a_commit_killed_on_s3_is_rolled_back_by_the_next_writer(s3, inputs, killed_after):
    client, bucket = s3
    uri = f"s3://{bucket}/city"
    assert _ingest(uri, *inputs).exit_code == 0
    store = Store(uri, create=False)
    versions = {name: store.table_version(name) for name in store.table_names()}
    rows = _rows(store)
    target = inputs[0] if killed_after == "elements" else inputs[1]
    # a short lock expiry: the killed writer's lock is left behind, and the next writer must take it over
    env = {**os.environ, FAULT_ENV: killed_after, "CIM_STORE_LOCK_TTL_S": "2"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, uri, str(target)], env=env, cwd=ROOT,
                          capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL
    keys = _keys(client, bucket)
    assert "city/_cim/journal.json" in keys and "city/_cim/write.lock" in keys
    assert _rows(Store(uri, create=False)) == rows  # readers see the previous state before any recovery
    reopened = Store(uri, CRS)  # the next writer: waits out the dead lock, then rolls back
    assert _rows(reopened) == rows
    for name, version in versions.items():
        assert reopened.table_version(name) >= version
        assert reopened.read(name, version=None).num_rows == store.read(name).num_rows
    keys = _keys(client, bucket)
    assert "city/_cim/journal.json" not in keys and "city/_cim/write.lock" not in keys
    if killed_after == "layer":  # the uncommitted layer version's objects are gone
        assert not any(k.startswith("city/layers/parcels/v2/") for k in keys)


def test_writers_racing_for_a_dead_writers_lock_hold_it_one_at_a_time(s3, inputs):
    import threading

    client, bucket = s3
    uri = f"s3://{bucket}/city"
    assert _ingest(uri, inputs[1]).exit_code == 0
    stores = [Store(uri, create=False) for _ in range(3)]  # separate Store objects: only the lock object binds them
    now = datetime.now(UTC)
    dead = {"host": "gone", "pid": 1, "expires_at": (now - timedelta(seconds=1)).isoformat()}
    client.put_object(Bucket=bucket, Key="city/_cim/write.lock", Body=json.dumps(dead).encode())
    inside, most, errors = [0], [0], []
    guard = threading.Lock()

    def write(store: Store) -> None:
        try:
            with store.lock():
                with guard:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0.3)
                with guard:
                    inside[0] -= 1
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and most[0] == 1
    assert not any(k.startswith("city/_cim/write.lock") for k in _keys(client, bucket))  # no lock, no break marker


def test_a_commit_that_fails_half_way_on_s3_is_undone_at_once(s3, inputs):
    import pyarrow as pa

    from cim.config import default_config
    from cim.ingest.run import plan_file, prepare_job
    from cim.store.objects import open_table

    client, bucket = s3
    uri = f"s3://{bucket}/city"
    assert _ingest(uri, inputs[0]).exit_code == 0
    store = Store(uri, CRS)
    rows, elements_version = _rows(store), store.table_version("elements")
    (change,) = prepare_job(plan_file(store, default_config(CRS), inputs[0], force=True))
    meshes = change.tables["meshes"]
    change.tables["meshes"] = meshes.append_column("undocumented", pa.nulls(meshes.num_rows))
    with pytest.raises(ValueError, match="not documented"):
        store.commit(change, skip_unchanged=False)  # elements is written before meshes fails
    assert _rows(Store(uri, create=False)) == rows
    assert store.table_version("elements") == elements_version + 2  # written, then restored at once
    assert open_table(store.table_path("elements")).to_pyarrow_table().num_rows == store.read("elements").num_rows
    keys = _keys(client, bucket)
    assert "city/_cim/journal.json" not in keys and "city/_cim/write.lock" not in keys
