"""The Parquet files of the store: meshes as a geometry payload (zstd, no dictionaries), attributes with them."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from deltalake import DeltaTable


def _encodings(table_dir: Path) -> tuple[set[str], set[str]]:
    compressions, encodings = set(), set()
    for uri in DeltaTable(str(table_dir)).file_uris():
        meta = pq.ParquetFile(uri.removeprefix("file://")).metadata
        for g in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                column = meta.row_group(g).column(c)
                compressions.add(column.compression)
                encodings.update(column.encodings)
    return compressions, encodings


def test_meshes_are_written_with_zstd_and_without_dictionaries(tunnel_store):
    compressions, encodings = _encodings(Path(tunnel_store.root) / "meshes")
    assert compressions == {"ZSTD"}
    assert "RLE_DICTIONARY" not in encodings and "PLAIN_DICTIONARY" not in encodings


def test_the_attribute_tables_keep_dictionaries_for_their_strings(tunnel_store):
    _, encodings = _encodings(Path(tunnel_store.root) / "elements")
    assert "RLE_DICTIONARY" in encodings


def test_meshes_read_back_whole_after_the_new_encoding(tunnel_store):
    meshes = tunnel_store.read("meshes")
    elements = tunnel_store.read("elements", columns=["has_mesh"])
    assert meshes.num_rows == sum(elements["has_mesh"].to_pylist()) > 0
    assert all(len(v) == 3 * n for v, n in zip(meshes["vertices"].to_pylist(), meshes["n_vertices"].to_pylist(),
                                               strict=True))
