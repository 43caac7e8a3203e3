"""The line index of an IFC file: what the next revision of the same model is compared against.

Writers that keep STEP ids between saves (IfcOpenShell and Bonsai, and most tools saving a model they
opened) write a revision whose entity lines are the previous file's lines, in the same order, except where
something was edited. Each version stores one 8-byte hash per entity line (BLAKE2b-64 of the line's bytes),
one per group of 64 lines, and one digest of the file's layout: the sequence of (id, entity type) of its
lines. When the next file has the same layout, the lines whose hash differs are exactly the edited entities
(``cim.ingest.line_diff``); it hashes its groups, and its lines only in the groups that differ, so the
revision costs what changed instead of a parse and a pass over every product.

Why not ifcopenshell: reading the lines is a split of the text; parsing it takes longer than the whole
revision is meant to take. Only files laid out one entity per line get an index (almost every writer's
layout); for any other a revision is ingested in full.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

_HASH_BYTES = 8
GROUP = 64  # lines per group hash: a revision hashes each line only in the groups whose bytes changed
_DIGITS, _MAX_TYPE, _WORDS = 18, 48, 6
_NEWLINE, _HASH, _SEMICOLON, _CR, _EQUALS, _PAREN, _QUOTE = 10, 35, 59, 13, 61, 40, 39
_KEEP_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)  # the first k bytes of a word


@dataclass(frozen=True)
class LineIndex:
    """What a version stores of its file's lines (one ``step_lines`` row)."""

    layout: str  # sha256 of the (id, type) sequence of the entity lines
    hashes: bytes  # 8 bytes per entity line, in file order
    groups: bytes  # 8 bytes per GROUP lines (the last group may be shorter)
    salt: str | None = None  # the geometry salt its products' geometry_input_hash were computed with
    id_steps: bytes | None = None  # the lines' STEP ids as int32 steps from 0 (None if one does not fit)
    roots: bytes | None = None  # sorted int64 ids of the lines that are IfcRoot entities
    root_masks: bytes | None = None  # 8 bytes per root: its text's hash with references blanked

    def ids(self) -> np.ndarray | None:
        if not self.id_steps or len(self.id_steps) != 4 * self.n_lines:
            return None
        return np.cumsum(np.frombuffer(self.id_steps, dtype="<i4").astype(np.int64))

    def root_ids(self) -> np.ndarray | None:
        return None if self.roots is None else np.frombuffer(self.roots, dtype="<i8")

    def masks(self) -> np.ndarray | None:
        if self.roots is None or self.root_masks is None or len(self.root_masks) != len(self.roots):
            return None
        return np.frombuffer(self.root_masks, dtype=np.uint64)

    @property
    def n_lines(self) -> int:
        return len(self.hashes) // _HASH_BYTES

    def as_table(self) -> pa.Table:
        return pa.table({"n_lines": pa.array([self.n_lines], pa.int64()), "layout_sha256": [self.layout],
                         "geometry_salt": pa.array([self.salt], pa.string()),
                         "line_hashes": pa.array([self.hashes], pa.binary()),
                         "group_hashes": pa.array([self.groups], pa.binary()),
                         "id_steps": pa.array([self.id_steps], pa.binary()),
                         "root_ids": pa.array([self.roots], pa.binary()),
                         "root_masks": pa.array([self.root_masks], pa.binary())})

    @classmethod
    def from_table(cls, table: pa.Table) -> LineIndex | None:
        """The index in a version's ``step_lines`` rows; None unless there is exactly one, whole."""
        if table.num_rows != 1:
            return None
        row = table.to_pylist()[0]
        lines, groups, n = row.get("line_hashes"), row.get("group_hashes"), row.get("n_lines") or 0
        if (not lines or not groups or not row.get("layout_sha256") or len(lines) != n * _HASH_BYTES
                or len(groups) != -(-n // GROUP) * _HASH_BYTES):
            return None
        steps, roots, masks = row.get("id_steps"), row.get("root_ids"), row.get("root_masks")
        return cls(row["layout_sha256"], bytes(lines), bytes(groups), row.get("geometry_salt"),
                   *(bytes(v) if v is not None else None for v in (steps, roots, masks)))


@dataclass
class FileLines:
    """A file's entity lines, found once: the index and what a revision diff needs of the text."""

    header: bytes  # everything before the DATA section's lines
    body: bytes  # the DATA section's lines
    starts: np.ndarray  # offset of each entity line in ``body``
    ends: np.ndarray  # and of its end (its newline)
    ids: np.ndarray  # int64 STEP id per line
    types: np.ndarray  # each line's entity type as a row of words (``type_name`` gives the name)
    quotes: np.ndarray  # offsets of the body's quotes (found once: the reference scan needs them too)
    index: LineIndex
    changed: np.ndarray | None = None  # lines that differ from the previous index (read with one)
    kinds: np.ndarray | None = None  # each line's kind (``cim.ingest.entity_kinds``), once asked

    def line(self, i: int) -> bytes:
        return self.body[self.starts[i]:self.ends[i]]


def read_lines(path: str | Path, salt: str | None = None, previous: LineIndex | None = None) -> FileLines | None:
    """The file's lines and index, or None if it is not laid out one entity per line with unique ids.

    With the ``previous`` version's index and the same layout, only the lines of groups whose bytes differ
    are hashed (the others' hashes are the previous ones) and ``changed`` lists the lines that differ."""
    data = Path(path).read_bytes()
    begin = data.find(b"\nDATA;")
    end = data.rfind(b"\nENDSEC;")
    if begin < 0 or end <= begin:
        return None
    begin = data.index(b"\n", begin + 1) + 1
    header, body = data[:begin], data[begin:end + 1]
    del data
    arr = np.frombuffer(body, dtype=np.uint8)
    found = _entity_lines(arr)
    if found is None:
        return None
    starts, ends, quotes = found
    # The hashes need only the lines' bounds: hashed in a thread while this one reads the ids and types (BLAKE2b
    # of a group and numpy's loops let go of the GIL). 50,000 elements, in a fresh process: 0.20 -> 0.17 s.
    with ThreadPoolExecutor(1, thread_name_prefix="cim-line-hash") as pool:
        hashed = pool.submit(_line_hashes, body, starts, ends, previous)
        ids, n_digits = numbers(arr, starts + 1)
        equals = starts + 1 + n_digits
        if not ((n_digits > 0) & (arr[np.minimum(equals, len(arr) - 1)] == _EQUALS)).all():
            return None  # '#12 = IFC...' (spaces) or no id: not the layout this index reads
        if len(unique(ids)) != len(ids):
            return None
        codes = _type_codes(arr, equals + 1, ends)
        if codes is None:
            return None
        digest = hashlib.sha256(np.ascontiguousarray(ids))
        digest.update(np.ascontiguousarray(codes))  # the digest of the joined bytes, without joining 9 MB
        layout = digest.hexdigest()
        groups, hashes, changed = hashed.result()
    lines = FileLines(header, body, starts, ends, ids, codes, quotes, LineIndex(layout, b"", b"", salt))
    if changed is not None and previous.layout == layout and len(previous.groups) == len(groups):
        lines.changed = changed  # by position: the same entities in the same order
    lines.index = LineIndex(layout, hashes, groups, salt, _steps(ids))
    return lines


def _line_hashes(body: bytes, starts: np.ndarray, ends: np.ndarray,
                 previous: LineIndex | None) -> tuple[bytes, bytes, np.ndarray | None]:
    """(group hashes, line hashes, the lines that differ from the previous line at their place or None without a
    previous index)."""
    groups = _hash_all([(int(starts[g]), int(ends[min(g + GROUP, len(starts)) - 1]))
                        for g in range(0, len(starts), GROUP)], body)
    if previous is not None and previous.groups:
        return groups, *_rehash(body, starts, ends, groups, previous)
    return groups, _hash_all(zip(starts.tolist(), ends.tolist(), strict=True), body), None


def _steps(ids: np.ndarray) -> bytes | None:
    steps = np.diff(ids, prepend=0)
    if len(steps) and (steps.min() < np.iinfo(np.int32).min or steps.max() > np.iinfo(np.int32).max):
        return None
    return steps.astype("<i4").tobytes()


def _rehash(body: bytes, starts: np.ndarray, ends: np.ndarray, groups: bytes,
            previous: LineIndex) -> tuple[bytes, np.ndarray]:
    """Line hashes from the previous index where a group's bytes are the previous file's group at the same
    place (same bytes: the same lines), hashed where they differ; and the lines hashed that differ from the
    previous line at their place. Whatever the layout: an editor that appends new entities and leaves the
    others in place keeps every group before the first edit, so only the edited groups and the new lines are
    hashed (hashing every line was a quarter of a revision of a 50,000-element model)."""
    n = len(starts)
    old = np.frombuffer(previous.hashes, dtype=np.uint64)
    new_groups = np.frombuffer(groups, dtype=np.uint64)
    old_groups = np.frombuffer(previous.groups, dtype=np.uint64)
    k = min(len(new_groups), len(old_groups))
    same = np.zeros(len(new_groups), dtype=bool)
    same[:k] = new_groups[:k] == old_groups[:k]
    reused = same[np.arange(n) // GROUP]  # per line: its group's bytes are the previous file's
    hashes = np.zeros(n, dtype=np.uint64)
    hashes[reused] = old[np.flatnonzero(reused)]
    redo = np.flatnonzero(~reused)
    fresh = np.frombuffer(_hash_all(zip(starts[redo].tolist(), ends[redo].tolist(), strict=True), body),
                          dtype=np.uint64)
    hashes[redo] = fresh
    placed = redo < len(old)
    changed = np.concatenate([redo[placed][fresh[placed] != old[redo[placed]]], redo[~placed]])
    return hashes.tobytes(), changed


def _hash_all(spans, body: bytes) -> bytes:
    blake = hashlib.blake2b
    return b"".join([blake(body[s:e], digest_size=_HASH_BYTES).digest() for s, e in spans])


def unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values. Why not ``np.unique``: for integers numpy 2 hashes, 30x slower than a sort."""
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if len(values) else values


def numbers(arr: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The decimal number starting at each offset of ``arr`` and its count of digits (0: none there).
    Why by hand: numpy reads the ids of a whole file at once, where a regex gives Python objects one by one.
    A digit is read as a byte (a non-digit wraps to 10 or more) and added in place where the number goes on:
    int64 temporaries per digit were a third of the time."""
    values = np.zeros(len(at), dtype=np.int64)
    n_digits = np.zeros(len(at), dtype=np.int64)
    going = np.ones(len(at), dtype=bool)
    last = len(arr) - 1
    pos = np.array(at, dtype=np.int64)
    for _ in range(_DIGITS):
        digit = arr[np.minimum(pos, last)] - np.uint8(48)
        going &= (digit < 10) & (pos <= last)
        if not going.any():
            break
        np.multiply(values, 10, out=values, where=going)
        np.add(values, digit, out=values, where=going)
        n_digits += going
        pos += 1
    return values, n_digits


def _type_codes(arr: np.ndarray, at: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """Each line's entity type (the bytes from ``at`` to the next '('), zero-padded to _MAX_TYPE bytes, as
    rows of uint64 words: equal rows are equal names, exactly. None for a name longer than any IFC entity's,
    or a line without its '(' before its end (``ends``).

    Why words: a whole-file gather of the names' bytes gives rows numpy compares and sorts at once. The '(' is
    found in each row, and the bytes after it cleared a word at a time (``at`` ascends, as lines do)."""
    if not len(at):
        return np.zeros((0, _WORDS), dtype=np.uint64)
    if int(at[-1]) + _MAX_TYPE > len(arr):  # the last rows would run past the text: pad it (a copy, rarely)
        arr = np.concatenate([arr, np.zeros(_MAX_TYPE, dtype=np.uint8)])
    window = np.lib.stride_tricks.sliding_window_view(arr, _MAX_TYPE)[at]  # rows copied, no index table
    paren = window == _PAREN
    length = paren.argmax(axis=1)
    if not paren[np.arange(len(at)), length].all() or (at + length >= ends).any():
        return None  # no '(' within _MAX_TYPE bytes, or only on a later line
    words = window.view("<u8")
    words &= _KEEP_BYTES[np.clip(length[:, None] - 8 * np.arange(_WORDS), 0, 8)]
    return words


def type_name(lines: FileLines, line: int) -> str:
    text = lines.line(line)
    return text[text.index(b"=") + 1:text.index(b"(")].strip().decode("ascii", "replace").upper()


def _entity_lines(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(start, end) offsets of the non-empty lines of the DATA section and the offsets of its quotes; None
    when a line does not start with '#' and end with ';' (an entity wrapped over lines, or something that is
    not an entity)."""
    breaks = np.flatnonzero(arr == _NEWLINE)
    starts = np.concatenate([[0], breaks + 1])[:-1] if len(breaks) else np.zeros(0, np.int64)
    ends = breaks  # each line ends before its newline (the body ends with one)
    last = ends - 1
    last = np.where((last >= starts) & (arr[np.maximum(last, 0)] == _CR), last - 1, last)
    keep = last >= starts
    if not (arr[starts[keep]] == _HASH).all() or not (arr[last[keep]] == _SEMICOLON).all():
        return None
    starts, ends = starts[keep], ends[keep]
    quotes = np.flatnonzero(arr == _QUOTE)
    if ((np.searchsorted(quotes, ends) - np.searchsorted(quotes, starts)) % 2).any():
        return None  # a string runs over a line break: a line is not one entity, whatever it looks like
    return starts, ends, quotes
