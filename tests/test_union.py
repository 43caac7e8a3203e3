"""The union of a floor's footprints: the same point set as shapely's union_all, parts covered by others left out."""

from __future__ import annotations

import numpy as np
import shapely

from cim.geometry.union import _not_covered, union_by_groups


def _pairs(parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    left, right = shapely.STRtree(parts).query(parts, predicate="intersects")
    return left[left != right], right[left != right]


def _same_point_set(a: shapely.Geometry, b: shapely.Geometry) -> bool:
    return shapely.symmetric_difference(a, b).area <= 1e-9 * max(a.area, 1.0)


def test_a_wall_on_its_slab_and_a_column_in_the_wall_leave_only_the_slab():
    slab = shapely.box(0, 0, 10, 8)
    wall = shapely.box(0, 0, 10, 0.3)
    column = shapely.box(4, 0, 4.3, 0.3)
    parts = np.array([wall, column, slab])
    assert _not_covered(parts, *_pairs(parts)).tolist() == [False, False, True]
    assert union_by_groups(parts).equals(slab)


def test_of_two_equal_rooms_the_first_is_kept_and_the_union_is_that_room():
    room = shapely.box(0, 0, 4, 3)
    again = shapely.Polygon([(4, 3), (0, 3), (0, 0), (4, 0)])  # the same point set, other vertex order
    parts = np.array([room, again])
    assert _not_covered(parts, *_pairs(parts)).tolist() == [True, False]
    assert union_by_groups(parts).equals(room)


def test_rooms_a_little_shorter_on_each_storey_union_to_the_longest():
    storeys = [shapely.box(100 - d, 50, 104 + d, 50.2) for d in (0.0, 0.025, 0.015, 0.005, 0.03)]
    parts = np.array(storeys)
    assert _not_covered(parts, *_pairs(parts)).sum() == 1
    assert union_by_groups(parts).equals(storeys[-1])


def test_overlapping_parts_that_do_not_cover_each_other_are_all_kept():
    a, b = shapely.box(0, 0, 2, 2), shapely.box(1, 1, 3, 3)
    parts = np.array([a, b])
    assert _not_covered(parts, *_pairs(parts)).all()
    assert _same_point_set(union_by_groups(parts), shapely.union(a, b))


def test_an_l_shaped_part_whose_box_holds_another_does_not_cover_it():
    ell = shapely.Polygon([(0, 0), (4, 0), (4, 1), (1, 1), (1, 4), (0, 4)])
    inside_box_not_ell = shapely.box(2, 2, 3, 3).union(shapely.box(0.5, 0.5, 2, 1.5))  # crosses the notch
    parts = np.array([inside_box_not_ell, ell])
    assert _not_covered(parts, *_pairs(parts)).all()
    assert _same_point_set(union_by_groups(parts), shapely.union_all(parts))


def test_random_floors_union_to_the_same_point_set_as_union_all():
    rng = np.random.default_rng(7)
    for _ in range(20):
        x, y = rng.uniform(0, 50, 300), rng.uniform(0, 50, 300)
        w, h = rng.uniform(0.1, 6, 300), rng.uniform(0.1, 6, 300)
        boxes = shapely.box(x, y, x + w, y + h)
        rotated = [shapely.affinity.rotate(b, rng.uniform(0, 90), origin="centroid") for b in boxes[:100]]
        nested = [shapely.affinity.scale(b, 0.5, 0.5) for b in boxes[100:150]]  # covered by their own box
        parts = np.array([*rotated, *boxes[100:], *nested], dtype=object)
        rng.shuffle(parts)
        assert _same_point_set(union_by_groups(parts), shapely.union_all(parts))
