"""The line index reads each entity line's type name from the text: equal names give equal rows, the name ends at
its '(' whatever its length, and a line whose name runs past any IFC entity's length is not indexed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cim.ingest.line_index import read_lines, type_name

HEADER = ("ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION((''),'2;1');\nFILE_NAME('t.ifc','',(''),(''),'','','');\n"
          "FILE_SCHEMA(('IFC4'));\nENDSEC;\nDATA;\n")


def _file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "t.ifc"
    path.write_text(HEADER + "\n".join(lines) + "\nENDSEC;\nEND-ISO-10303-21;\n")
    return path


def test_each_line_is_typed_by_its_name_up_to_the_parenthesis_up_to_the_last_short_line(tmp_path):
    names = ["IFCWALL", "IFCCARTESIANPOINT", "IFCRELDEFINESBYPROPERTIES", "IFCWALL", "IFCA", "X" * 47, "IFCA"]
    lines = [f"#{i + 1}={name}(#{i},'a(b)',1.);" for i, name in enumerate(names[:-1])] + ["#99=IFCA();"]
    read = read_lines(_file(tmp_path, lines))
    assert read is not None
    assert [type_name(read, i) for i in range(len(names))] == names
    rows = [read.types[i].tobytes() for i in range(len(names))]
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            assert (rows[i] == rows[j]) == (a == b), (a, b)
    assert np.array_equal(read.ids, [1, 2, 3, 4, 5, 6, 99])


def test_a_type_name_longer_than_any_entitys_or_without_its_parenthesis_leaves_the_file_unindexed(tmp_path):
    assert read_lines(_file(tmp_path, ["#1=IFCWALL(#2);", "#2=" + "X" * 60 + "(1.);"])) is None
    assert read_lines(_file(tmp_path, ["#1=IFCWALL(#2);", "#2=IFCNOPAREN;"])) is None
    assert read_lines(_file(tmp_path, ["#1=IFCNOPAREN;", "#2=IFCWALL(#1);"])) is None  # not the next line's '('
