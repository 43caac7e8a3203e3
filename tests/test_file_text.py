"""The file's text read by a helper process (cim.ingest.file_text): the same facts, and no process left behind."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from cim.ifc.integrity import reference_depth, reference_edges
from cim.ingest import file_text
from cim.ingest.file_digests import file_digests
from cim.ingest.file_text import FileText
from cim.ingest.line_diff import with_roots
from cim.ingest.line_index import read_lines
from tests.incremental_models import base_model


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def model(tmp_path):
    return base_model(tmp_path / "m.ifc")


def _expected(path):
    src, dst, n = reference_edges(path)
    depth = reference_depth(src, dst)
    return src, dst, n, depth, file_digests(path, src, dst, n, depth)


def test_the_helper_reads_the_graph_and_digests_this_process_would(model):
    src, dst, n, depth, digests = _expected(model)
    with FileText(model) as text:
        graph, theirs = text.graph(), text.digests()
    assert np.array_equal(graph.src, src) and np.array_equal(graph.dst, dst) and graph.n_defined == n
    assert np.array_equal(graph.depth.height, depth.height)
    assert np.array_equal(theirs._digests, digests._digests)


def test_the_helper_reads_the_line_index_this_process_would(model):
    here = with_roots(read_lines(model), "IFC4")
    with FileText(model) as text:
        theirs = text.line_index("IFC4")
        pid = text._child.pid
    assert theirs == here and theirs.n_lines > 0 and theirs.roots
    assert _gone(pid)


def test_a_line_index_asked_for_with_another_schema_is_read_here_with_it(model):
    with FileText(model) as text:
        assert text.line_index("IFC2X3") == with_roots(read_lines(model), "IFC2X3")


def _digests_fail(path, progress):
    progress(file_text.read_graph(path))
    raise ValueError("no digests")


def test_when_the_helper_raises_that_answer_raises_and_the_line_index_is_read_here(model, monkeypatch):
    monkeypatch.setattr(file_text, "read_text", _digests_fail)
    with FileText(model) as text:
        text.graph()
        with pytest.raises(ValueError, match="no digests"):
            text.digests()
        with pytest.raises(ValueError, match="no digests"):  # asked again: the same answer, not read again
            text.digests()
        assert text.line_index("IFC4") == with_roots(read_lines(model), "IFC4")


def _asleep(path, progress):  # a helper that has not answered yet
    time.sleep(60)


def test_a_helper_killed_before_answering_is_replaced_by_reading_here(model, caplog, monkeypatch):
    src, _, n, _, digests = _expected(model)
    monkeypatch.setattr(file_text, "read_text", _asleep)
    with FileText(model) as text:
        pid = text._child.pid
        os.kill(pid, signal.SIGKILL)
        graph, theirs, index = text.graph(), text.digests(), text.line_index("IFC4")
    assert np.array_equal(graph.src, src) and graph.n_defined == n
    assert np.array_equal(theirs._digests, digests._digests)
    assert index == with_roots(read_lines(model), "IFC4")
    assert "reading it here" in caplog.text
    assert _gone(pid)


def test_leaving_before_reading_ends_the_helper(model, monkeypatch):
    monkeypatch.setattr(file_text, "read_text", _asleep)
    with FileText(model) as text:
        pid = text._child.pid
    assert _gone(pid)
