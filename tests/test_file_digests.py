"""Entity digests computed for a whole file at once group products exactly as the per-entity digests do."""

from __future__ import annotations

from pathlib import Path

import ifcopenshell
import pytest

from cim.ifc.integrity import reference_depth, reference_edges
from cim.ingest.file_digests import file_digests
from cim.ingest.geometry_key import GraphDigests, geometry_input_hashes
from tests.conftest import FIXTURES
from tests.models import add_box, new_model, write

REAL = ["ifc4/AC20-FZK-Haus.ifc", "ifc2x3/Duplex_A_20110907.ifc", "mep/domestic-hot-water.ifc",
        "ifc4x3/georeferenced-bridge-deck.ifc", "infra/PR-Twin-Branch-PavementElements.ifc"]


def both(path: Path):
    """(whole-file digests, per-entity digests, products) of one file."""
    model = ifcopenshell.open(str(path))
    src, dst, n = reference_edges(path)
    whole = file_digests(path, src, dst, n, reference_depth(src, dst))
    return whole, GraphDigests(model, path), model.by_type("IfcProduct")


def same_grouping(a: dict[int, str], b: dict[int, str]) -> bool:
    """Two keyings agree when they put the same products together (their values differ by design)."""
    pairs = {(a[k], b[k]) for k in a}
    return len(pairs) == len(set(a.values())) == len(set(b.values()))


@pytest.mark.parametrize("relative", REAL)
def test_a_real_export_gets_the_same_product_grouping_from_both_digests(relative):
    path = FIXTURES / relative
    if not path.exists():
        pytest.skip(f"shared fixture {relative} is not present")
    whole, per_entity, prods = both(path)
    assert whole is not None
    a = geometry_input_hashes(per_entity.model, prods, "salt", digests=whole)
    b = geometry_input_hashes(per_entity.model, prods, "salt", digests=per_entity)
    assert len(a) == len(prods) and same_grouping(a, b)
    for product in prods[:200]:  # and entity by entity: equal digests exactly where the per-entity ones are
        rep = getattr(product, "Representation", None)
        if rep is not None:
            assert (whole.of(rep) == whole.of(product.ObjectPlacement)) == \
                   (per_entity.of(rep) == per_entity.of(product.ObjectPlacement))


def model_with_two_columns(tmp_path: Path, second_x: float, name: str = "C2") -> Path:
    f, ctx = new_model()
    add_box(f, ctx, "IfcColumn", name="C1", corner=(0.0, 0.0, 0.0), size=(0.4, 0.4, 3.0))
    add_box(f, ctx, "IfcColumn", name=name, corner=(second_x, 0.0, 0.0), size=(0.4, 0.4, 3.0))
    return write(f, tmp_path / f"m_{second_x}_{name}.ifc")


def keys_of(path: Path) -> dict[str, str]:
    whole, per_entity, _ = both(path)
    columns = per_entity.model.by_type("IfcColumn")
    keys = geometry_input_hashes(per_entity.model, columns, "salt", digests=whole)
    return {c.Name: keys[c.id()] for c in columns}


def test_moving_one_column_changes_its_key_only(tmp_path):
    before, after = keys_of(model_with_two_columns(tmp_path, 5.0)), keys_of(model_with_two_columns(tmp_path, 6.0))
    assert before["C1"] == after["C1"] and before["C2"] != after["C2"]


def test_a_renamed_column_keeps_its_geometry_key(tmp_path):
    assert keys_of(model_with_two_columns(tmp_path, 5.0)) ["C1"] == \
        keys_of(model_with_two_columns(tmp_path, 5.0, name="renamed"))["C1"]


def test_a_reference_inside_a_string_is_text_not_a_reference(tmp_path):
    path = model_with_two_columns(tmp_path, 5.0)
    text = path.read_text()
    changed = tmp_path / "quoted.ifc"
    changed.write_text(text.replace("'C1'", "'see #1 and #2'", 1))
    whole, _, _ = both(changed)
    assert whole is not None  # the quoted '#1' is neither masked nor taken as a reference
    assert keys_of(changed)["see #1 and #2"] == keys_of(path)["C1"]


def test_a_file_with_an_entity_over_two_lines_falls_back_to_per_entity_digests(tmp_path):
    path = model_with_two_columns(tmp_path, 5.0)
    lines = path.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "IFCCARTESIANPOINT((" in line)
    lines[at] = lines[at].replace("((", "(\n(", 1)
    folded = tmp_path / "folded.ifc"
    folded.write_text("".join(lines))
    whole, _, _ = both(folded)
    assert whole is None


@pytest.mark.parametrize("relative", REAL[:2])
def test_the_quick_mask_equals_the_string_preserving_one_on_real_exports(relative):
    from cim.ingest.file_digests import _MASK, _masked

    path = FIXTURES / relative
    if not path.exists():
        pytest.skip(f"shared fixture {relative} is not present")
    data = path.read_bytes()
    assert _masked(data) == _MASK.sub(rb"\1\2", data)


def test_digests_looked_up_together_are_those_looked_up_one_by_one_cycles_and_absences_included():
    import numpy as np

    from cim.ingest.file_digests import FileDigests

    class Entity:
        def __init__(self, step_id: int) -> None:
            self.step_id = step_id

        def id(self) -> int:
            return self.step_id

    ids = np.array([3, 7, 9, 12], dtype=np.int64)
    digests = np.arange(4 * 16, dtype=np.uint8).reshape(4, 16)
    whole = FileDigests(ids, digests, np.array([True, False, True, True]))  # #7 sits on a reference cycle
    asked = [Entity(9), None, Entity(7), Entity(5), Entity(12), Entity(40), Entity(3), Entity(9)]
    assert whole.of_all(asked) == [whole.of(e) for e in asked]
    assert whole.of_all(asked)[2:4] == ["<cycle>", "<cycle>"]
    assert whole.of_all(asked)[:2] == [digests[2].tobytes().hex(), "-"]  # #9's own 16 bytes, and no entity
    assert FileDigests(ids[:0], digests[:0], ids[:0] > 0).of_all([None, Entity(1)]) == ["-", "<cycle>"]
