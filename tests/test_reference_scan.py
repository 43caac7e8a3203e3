"""The file's references read by numpy (cim.ifc.integrity._tokens) are the ones the regex reads, case by case."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from cim.ifc import integrity

SAMPLES = Path(__file__).resolve().parents[1] / "sample_models"
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def _both(data: bytes):
    out = []
    for read in (integrity._tokens, integrity._regex_tokens):
        try:
            numbers, is_def = read(data)
            out.append((numbers.tolist(), is_def.tolist()))
        except (OverflowError, ValueError) as exc:
            out.append(type(exc).__name__)
    return out


@pytest.mark.parametrize("data", [
    b"#1=IFCWALL('a''b #2',#3);\n",  # an escaped quote inside a string, a '#' in it
    b"#1 = X(#2 ,#3);#4\t=Y('#5');",  # blanks before '='
    b"#1=X('unterminated #2, #3);\n#4=Y(#5);",  # an unpaired quote opens nothing
    b"#7\n=\n#8", b"#9\x0b=#10\x0c", b"#=X(#);#1x=#2", b"'''#1", b"", b"#", b"'",
    b"#1" + b" " * 40 + b"=X(#2);",  # a long run of blanks: read by the regex
    b"#123456789012345678=X(#1);",  # 18 digits: the most an int64 always holds
    b"#12345678901234567890=X(#1);",  # more: the regex's OverflowError, as before
])
def test_numpy_and_the_regex_read_the_same_references(data):
    ours, regex = _both(data)
    assert ours == regex


def test_numpy_and_the_regex_agree_on_random_text_of_step_characters():
    rng = random.Random(7)
    for _ in range(5000):
        data = bytes(rng.choice(b"#= '12309(;\n\ta,") for _ in range(rng.randint(0, 60)))
        ours, regex = _both(data)
        assert ours == regex, data


def test_numpy_and_the_regex_agree_on_every_sample_and_fixture_file():
    files = sorted(SAMPLES.rglob("*.ifc")) + (sorted(FIXTURES.rglob("*.ifc")) if FIXTURES.is_dir() else [])
    assert files
    for path in files:
        ours, regex = _both(path.read_bytes())
        assert ours == regex, path


def test_the_file_scan_gives_each_reference_its_owner(tmp_path):
    path = tmp_path / "m.ifc"
    path.write_bytes(b"ISO-10303-21;\nHEADER;\nFILE_NAME('#9',$);\nENDSEC;\nDATA;\n#1=A(#2,'#3');\n#2=B(#1,\n#4);\n"
                     b"ENDSEC;\nEND-ISO-10303-21;\n")
    src, dst, n_defined = integrity.reference_edges(path)
    assert list(zip(src.tolist(), dst.tolist(), strict=True)) == [(1, 2), (2, 1), (2, 4)] and n_defined == 2
    assert np.array_equal(integrity.reference_depth(src, dst).height[-1:], [0])  # #4: a leaf


@pytest.mark.parametrize("ids", [(1, 2, 3, 4), (4, 1, 3, 2), (7, 90_000_000, 12, 5_000_000_000_000)],
                         ids=["dense", "dense out of order", "sparse"])
def test_the_revision_graph_links_each_reference_to_the_line_defining_it_however_the_ids_are_numbered(
        tmp_path, ids):
    from cim.ingest.line_diff import references
    from cim.ingest.line_index import read_lines

    a, b, c, d = ids
    body = (f"#{a}=IFCCARTESIANPOINT((0.,0.,0.));\n#{b}=IFCAXIS2PLACEMENT3D(#{a},$,$);\n"
            f"#{c}=IFCLOCALPLACEMENT($,#{b});\n#{d}=IFCWALL('x',$,'Door #{a}',$,$,#{c},$,$,$);\n")
    path = tmp_path / "m.ifc"
    path.write_text(f"ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\n{body}ENDSEC;\nEND-ISO-10303-21;\n")
    src, dst = references(read_lines(path))
    assert sorted(zip(src.tolist(), dst.tolist(), strict=True)) == [(1, 0), (2, 1), (3, 2)]  # '#a' in a name: text
    path.write_text(path.read_text().replace(f",#{c},", f",#{c + 1000},"))
    assert references(read_lines(path)) is None  # a reference to an id no line defines
