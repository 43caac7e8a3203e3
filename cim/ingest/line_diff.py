"""Which products a revision touched, from the lines that changed since the previous version.

With the same layout as the previous file (``cim.ingest.line_index``), the changed lines are the edited
entities. A product's mesh depends on what it reaches by reference (placement chain, representation,
shared type maps), so the products to mesh again are those that reach a changed line: found by climbing the
reference graph from the changed lines up to the first product. Everything else the version stores (every
other product's rows, relationships, properties) is the previous version's, so the plan is refused, and the
file ingested in full, when an edit could reach more than geometry:

- a changed entity is itself an IfcRoot (a product's name, a relationship, a property set, a type), except a
  product that only refers to other entities (an editor's new placement or representation for it);
- the climb reaches an IfcRoot that is not a product (a type object, a property set, the project), a
  spatial element (storey heights and building outlines follow it), a representation context or
  georeferencing entity, or nothing at all (an opening or projection it reaches is redone with its host);
- more than a quarter of the products (and more than 64) are reached: meshing them all is then as quick.

The products to redo are meshed from a small file of their entities and what georeferences them
(``Revision.text``); ``cim.ingest.revise`` checks that its georeferencing and geometry salt are the previous
version's before using anything meshed from it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from cim.ifc.integrity import range_positions
from cim.ingest.entity_kinds import FEATURE, FEATURE_REL, FRAME, OTHER, PRODUCT, PROJECT, ROOT, ROOTED, SPATIAL, spelled
from cim.ingest.entity_kinds import kinds as kinds_of
from cim.ingest.line_index import FileLines, LineIndex, numbers, type_name, unique

_REFERENCE = re.compile(rb"#\d+")
MAX_SHARE = 0.25
_FEW = 64  # products always worth meshing the short way, whatever their share of a small model
_HASH, _EQUALS, _NEWLINE = 35, 61, 10
_REFUSED = {FEATURE: "an opening or projection", SPATIAL: "a spatial element", ROOT: "an IfcRoot entity",
            FRAME: "a representation context or georeferencing entity", PROJECT: "the IfcProject",
            FEATURE_REL: "an opening relationship"}


@dataclass
class Revision:
    """The products to mesh again and a file holding what they need."""

    products: list[int]  # STEP ids
    text: bytes  # a STEP file: header, their entities' closure, the project, spatial and georeferencing
    changed: int  # entity lines that changed


def plan_revision(new: FileLines, old: LineIndex, schema: str, max_share: float = MAX_SHARE) -> Revision | str:
    """The revision's plan, or why the file must be ingested in full."""
    # The references, most of the plan's time, are read in a thread while this one compares the lines (numpy's
    # loops let go of the GIL). 50,000 elements, in a fresh process: 0.155 -> 0.121 s.
    with ThreadPoolExecutor(1, thread_name_prefix="cim-references") as pool:
        read = pool.submit(references, new)
        kinds = kinds_of(new, schema)
        changed = _changed(new, old)
        if isinstance(changed, str):
            return changed
        new.changed = changed  # aligned by id, the lines that differ (``with_roots`` keeps the others' masks)
        old_roots = old.root_ids()
        was_root = np.isin(new.ids[changed], old_roots) if old_roots is not None else np.zeros(len(changed), bool)
        rooted = (kinds[changed] != OTHER) | was_root  # an IfcRoot now, or before under the same id
        relinked = _relinked(new, old, changed[rooted], kinds)
        if isinstance(relinked, tuple):
            return _why(new, kinds, *relinked, schema)
        edges = read.result()
    if edges is None:
        return "a line defines more than one entity, or refers to one the file does not define"
    src, dst = edges
    affected = _climb(changed[~rooted], src, dst, kinds, relinked)
    if isinstance(affected, tuple):
        return _why(new, kinds, *affected, schema)
    n_products = int(np.isin(kinds, (PRODUCT, FEATURE, SPATIAL)).sum())
    if len(affected) > max(max_share * n_products, _FEW):
        return f"{len(affected)} of {n_products} products changed"
    keep = _closure(_seeds(affected, kinds, src, dst), src, dst, len(new.starts))
    text = new.header + b"\n".join([new.line(i) for i in keep.tolist()]) + b"\nENDSEC;\nEND-ISO-10303-21;\n"
    return Revision(new.ids[affected].tolist(), text, len(changed))


def _changed(new: FileLines, old: LineIndex) -> np.ndarray | str:
    """Lines of the new file that are new or differ from the previous version's line of the same STEP id, or
    why the two cannot be compared. With the same layout, line by line; else aligned by id, as a tool that
    keeps ids writes an edit (new entities appended, replaced ones left out)."""
    if new.index.layout == old.layout:
        if new.changed is not None:
            return new.changed
        return np.flatnonzero(np.frombuffer(new.index.hashes, np.uint64) != np.frombuffer(old.hashes, np.uint64))
    old_ids, roots = old.ids(), old.root_ids()
    if old_ids is None or roots is None:
        return "entities were added, removed or reordered, and the previous version has no ids to align them"
    order = np.argsort(old_ids)
    slot = np.minimum(np.searchsorted(old_ids[order], new.ids), len(order) - 1)
    common = old_ids[order][slot] == new.ids
    old_hashes = np.frombuffer(old.hashes, np.uint64)[order][slot]
    differ = ~common | (old_hashes != np.frombuffer(new.index.hashes, np.uint64))
    removed = np.setdiff1d(old_ids, new.ids, assume_unique=True)
    if (gone := np.intersect1d(removed, roots, assume_unique=True)).size:
        return f"an IfcRoot entity (#{int(gone[0])}: a product, relationship, property set or type) was removed"
    return np.flatnonzero(differ)


def _relinked(new: FileLines, old: LineIndex, rooted: np.ndarray, kinds: np.ndarray) -> np.ndarray | tuple:
    """The changed IfcRoot lines that are products whose text is the previous one's but for the entities
    they refer to (an editor gave them a new placement or representation): meshed again, their other
    attributes unchanged. Any other changed or new IfcRoot refuses the plan: (line, why)."""
    roots, masks = old.root_ids(), old.masks()
    if not rooted.size:
        return rooted
    if roots is None or masks is None:
        return int(rooted[0]), "changed"
    slot = np.minimum(np.searchsorted(roots, new.ids[rooted]), len(roots) - 1)
    known = roots[slot] == new.ids[rooted]
    same = known & (masks[slot] == np.frombuffer(_masks(new, rooted), np.uint64))
    bad = rooted[~same | ~np.isin(kinds[rooted], (PRODUCT, FEATURE))]
    if bad.size:
        return int(bad[0]), "changed or added"
    return rooted


def with_roots(lines: FileLines, schema: str, previous: LineIndex | None = None) -> LineIndex:
    """The file's index with its ``roots`` and ``root_masks``: the ids of its IfcRoot lines, which a revision
    may not remove, and the hash of each one's text with its references blanked, which it may not change.
    With the ``previous`` index the file was compared with (``lines.changed`` set), the masks of unchanged
    lines are the previous ones."""
    rooted = np.flatnonzero(np.isin(kinds_of(lines, schema), ROOTED))
    rooted = rooted[np.argsort(lines.ids[rooted])]
    masks = np.zeros(len(rooted), dtype=np.uint64)
    todo = np.ones(len(rooted), dtype=bool)
    old_roots, old_masks = (previous.root_ids(), previous.masks()) if previous is not None else (None, None)
    if old_masks is not None and lines.changed is not None and len(old_roots):
        slot = np.minimum(np.searchsorted(old_roots, lines.ids[rooted]), len(old_roots) - 1)
        todo = (old_roots[slot] != lines.ids[rooted]) | np.isin(rooted, lines.changed)
        masks[~todo] = old_masks[slot[~todo]]
    masks[todo] = np.frombuffer(_masks(lines, rooted[todo]), dtype=np.uint64)
    return dataclasses.replace(lines.index, roots=lines.ids[rooted].astype("<i8").tobytes(),
                               root_masks=masks.tobytes())


def _masks(lines: FileLines, positions: np.ndarray) -> bytes:
    """8-byte hash of each line's text after its '=' with every reference blanked, strings kept as they are
    (a name 'Room #12' renamed 'Room #13' is a change): split at the quotes, the even pieces are outside
    strings (an escaped quote '' leaves an empty piece between, so the parity holds)."""
    blake, sub = hashlib.blake2b, _REFERENCE.sub
    out = []
    for i in positions.tolist():
        text = lines.line(i)
        text = text[text.index(b"=") + 1:]
        if b"'" in text:
            pieces = text.split(b"'")
            pieces[::2] = [sub(b"#", piece) for piece in pieces[::2]]
            text = b"'".join(pieces)
        else:
            text = sub(b"#", text)
        out.append(blake(text, digest_size=8).digest())
    return b"".join(out)


def references(lines: FileLines) -> tuple[np.ndarray, np.ndarray] | None:
    """(line of the referring entity, line of the referred one) for every ``#n`` after a line's own id, or
    None when a line defines a second entity or refers to one the file does not define. Why by hand and not a
    regex: this runs on every revision, and numpy reads the ids of the whole text at once. A ``#`` inside a
    string ('Door #3') is text: every line holds an even number of quotes (``read_lines`` checks it, and an
    escaped quote is two), so a '#' after an odd number of quotes is inside one."""
    arr = np.frombuffer(lines.body, dtype=np.uint8)
    at = np.flatnonzero(arr == _HASH)
    at = at[(at > 0) & (arr[at - 1] != _NEWLINE)]  # a line's own id: every line starts with '#' after a break
    at = at[np.searchsorted(lines.quotes, at) % 2 == 0]
    values, n_digits = numbers(arr, at + 1)
    after = arr[np.minimum(at + 1 + n_digits, len(arr) - 1)]
    if ((n_digits > 0) & (after == _EQUALS)).any():
        return None
    owner = np.searchsorted(lines.starts, at, side="right") - 1
    line = line_of(lines.ids, values)
    found = (n_digits > 0) & (line >= 0) & (owner >= 0)
    if (found != ((n_digits > 0) & (owner >= 0))).any():
        return None  # a reference to an entity the file does not define: the full ingest reports it
    return owner[found], line[found]


def line_of(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The line defining each of ``values`` (-1: none). Ids are mostly dense and ascending, as exporters number
    them: then a table indexed by id answers at once (a sorted search cost a sixth of the whole graph)."""
    top = int(ids.max()) if len(ids) else -1
    if top <= 4 * len(ids) + 1024:  # ids are read from digits: never negative
        table = np.full(top + 2, -1, dtype=np.int64)
        table[ids] = np.arange(len(ids))
        return table[np.clip(values, -1, top + 1)]  # -1 and top + 1 hold -1: no line
    order = np.argsort(ids)
    slot = np.minimum(np.searchsorted(ids[order], values), len(order) - 1)
    return np.where(ids[order][slot] == values, order[slot], -1)


def _climb(changed: np.ndarray, src: np.ndarray, dst: np.ndarray, kinds: np.ndarray,
           relinked: np.ndarray) -> np.ndarray | tuple:
    """Lines of the products reaching a changed line, and the hosts of the openings and projections among
    them (a host's mesh is cut by its openings); or (line, why) for the first line that refuses the plan."""
    parents_of = _Adjacency.of(dst, src, len(kinds))
    if (orphan := changed[parents_of.count(changed) == 0]).size:
        return int(orphan[0]), "changed, reaching no product"
    seen = np.zeros(len(kinds), dtype=bool)
    seen[changed] = True
    products, frontier = [relinked.astype(np.int64)], changed
    while frontier.size:
        parents = parents_of.step(frontier)
        parents = parents[~seen[parents]]
        seen[parents] = True
        kind = kinds[parents]
        if (bad := parents[~np.isin(kind, (OTHER, PRODUCT, FEATURE))]).size:
            return int(bad[0]), "reached by a changed line"
        products.append(parents[kind != OTHER])
        frontier = parents[kind == OTHER]
    found = unique(np.concatenate(products))
    features = found[kinds[found] == FEATURE]
    if features.size:  # the relationship naming an opening names its host
        rels = unique(src[np.isin(dst, features) & (kinds[src] == FEATURE_REL)])
        hosts = dst[np.isin(src, rels) & np.isin(kinds[dst], (PRODUCT, FEATURE))]
        found = unique(np.concatenate([found, hosts]))
    return found


def _seeds(affected: np.ndarray, kinds: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The changed products, the project, the spatial structure, the georeferencing entities, and the
    opening and projection relationships of the changed products (their hosts' meshes need them)."""
    model_wide = np.flatnonzero(np.isin(kinds, (SPATIAL, FRAME, PROJECT)))
    rels = unique(src[(kinds[src] == FEATURE_REL) & np.isin(dst, affected)])
    return unique(np.concatenate([affected, model_wide, rels]))


def _closure(seeds: np.ndarray, src: np.ndarray, dst: np.ndarray, n_lines: int) -> np.ndarray:
    """Every line the seeds reach by reference (themselves included), in file order."""
    children_of = _Adjacency.of(src, dst, n_lines)
    seen = np.zeros(n_lines, dtype=bool)
    seen[seeds] = True
    frontier = seeds
    while frontier.size:
        children = children_of.step(frontier)
        frontier = children[~seen[children]]
        seen[frontier] = True
    return np.flatnonzero(seen)


@dataclass
class _Adjacency:
    """One direction of the reference graph, compressed by row: what each line refers to, or is referred
    to by. The climb to the products and the closure of the small file walk it a level at a time."""

    targets: np.ndarray
    indptr: np.ndarray

    @classmethod
    def of(cls, rows: np.ndarray, targets: np.ndarray, n_lines: int) -> _Adjacency:
        indptr = np.zeros(n_lines + 1, dtype=np.int64)  # each row's first slot: the counts of the rows before it
        np.cumsum(np.bincount(rows, minlength=n_lines), out=indptr[1:])
        return cls(targets[np.argsort(rows, kind="stable")], indptr)

    def count(self, rows: np.ndarray) -> np.ndarray:
        return self.indptr[rows + 1] - self.indptr[rows]

    def step(self, rows: np.ndarray) -> np.ndarray:
        """The distinct lines one reference away from ``rows``."""
        return unique(self.targets[range_positions(self.indptr[rows], self.count(rows))])


def _why(lines: FileLines, kinds: np.ndarray, line: int, what: str, schema: str) -> str:
    kind = _REFUSED.get(int(kinds[line]), "an entity")
    return f"{kind} (#{int(lines.ids[line])} {spelled(type_name(lines, line), schema)}) {what}"
