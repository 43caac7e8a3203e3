"""A commit's table still being computed (cim.store.pending.Pending): written when done, or nothing written."""

from __future__ import annotations

import pickle

import pytest

from cim.ingest.same_content import next_record
from cim.store import ModelCommit, Store
from cim.store.pending import Pending
from tests.models import one_wall_store

TABLES = ("elements", "meshes", "buildings", "relations")


@pytest.fixture
def store(tmp_path):
    return one_wall_store(tmp_path, "m.ifc")


def _next_version(store: Store, buildings) -> ModelCommit:
    tables = {t: store.read_model(t, "m", 1).drop_columns(["model_id", "version"]) for t in TABLES}
    tables["buildings"] = Pending.compute(buildings, tables["buildings"])
    record = next_record(store.latest("m"), sha256="0" * 64, content_sha256="1" * 64, size_bytes=1)
    return ModelCommit(model_id="m", record=record, tables=tables)


def _snapshot(store: Store) -> dict[str, int]:
    """Rows per table (a rolled-back write leaves a newer Delta version holding the same rows)."""
    return {name: store.read(name).num_rows for name in store.table_names()}


def test_a_table_computed_meanwhile_is_written_with_the_others(store):
    assert store.commit(_next_version(store, lambda table: table)) == 2
    for name in TABLES:
        assert store.read_model(name, "m", 2).num_rows == store.read_model(name, "m", 1).num_rows > 0, name


def test_a_commit_sent_to_another_process_carries_the_table_itself(store):
    commit = _next_version(store, lambda table: table)
    sent = pickle.loads(pickle.dumps(commit))
    assert sent.tables["buildings"].equals(commit.tables["buildings"].result())


def test_a_table_whose_computation_fails_leaves_every_table_as_it_was(store):
    before = _snapshot(store)

    def fails(_table):
        raise RuntimeError("outline failed")

    with pytest.raises(RuntimeError, match="outline failed"):
        store.commit(_next_version(store, fails))
    assert _snapshot(store) == before
    assert store.latest("m")["version"] == 1
