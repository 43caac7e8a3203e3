"""The narrow phase shared with a forked child (``cim.clash.split``) finds what one process finds, in the same
order, with the same counts; a child that dies leaves its pairs to this process."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import cim.clash.split as split
from cim.clash.engine import Checker


@pytest.fixture(scope="module")
def city(clash_city):
    _, rules, checker = clash_city
    return rules, checker


def _rows(findings) -> list[tuple]:
    return [(f.rule.name, f.a, f.b, f.mode, tuple(np.round(f.point, 9)), f.contact.depth, f.contact.distance)
            for f in findings]


def _counts(checker: Checker) -> tuple:
    s = checker.stats
    return s.candidates, s.tested, s.suppressed, s.per_rule


def test_a_check_split_with_a_child_finds_the_same_clashes_in_the_same_order(city, monkeypatch):
    rules, checker = city
    alone = checker()
    found = alone.run(rules)
    assert found, "the sample city has planted clashes"
    monkeypatch.setattr(split, "SPLIT_FROM", 1)
    shared = checker()
    assert _rows(shared.run(rules, processes=2)) == _rows(found)
    assert _counts(shared) == _counts(alone)
    assert all(any(f.rule is r for r in rules.rules) for f in shared.run(rules, processes=2))


def test_a_child_that_dies_leaves_its_pairs_tested_here(city, monkeypatch):
    rules, checker = city
    expected = _rows(checker().run(rules))
    monkeypatch.setattr(split, "SPLIT_FROM", 1)

    def die(*_args, **_kwargs):
        os.kill(os.getpid(), signal.SIGKILL)  # in the child: a kernel that crashed

    monkeypatch.setattr(split, "_tested", die)
    shared = checker()
    assert _rows(shared.run(rules, processes=2)) == expected


def test_one_process_or_fewer_pairs_than_split_from_is_not_split(city, monkeypatch):
    rules, checker = city
    monkeypatch.setattr(split, "test_in_two", lambda *a: pytest.fail("split"))
    monkeypatch.setattr(split, "SPLIT_FROM", 1)
    assert checker().run(rules, processes=1)
    monkeypatch.setattr(split, "SPLIT_FROM", 10**9)
    assert checker().run(rules, processes=2)
