"""Mutation sweep of damaged IFC files: every mutant is refused in one line or ingested with honest counts.

    python -m bench.mutate_ifc [--seed 10] [--out bench/out/mutants] [--only NAME]

Takes small real files (a sample building and shared fixtures), writes ~90 deterministic mutants
(truncated and re-terminated, deleted or duplicated lines, swapped ids, absurd numbers, broken
strings, non-UTF-8 bytes, BOM, CRLF, unknown entities, wrong attribute counts, placement cycles and
deep placement chains) and ingests each in its own process (a crash of the geometry kernel must show
as such, not stop the sweep). Each outcome is one of:

- ``refused``: quarantined with a named stage (not ``internal``) and a one-line message naming the file;
- ``accepted``: ingested (status ok, warning or incomplete) and every product counted: elements stored +
  products refused = products in the file, and meshes stored + products reported without geometry +
  refused products with a body = products with a Body representation;
- ``miscounted``: ingested, but products went missing without a report;
- ``internal``: quarantined as an internal error (a bug);
- ``uncaught``: the ingest raised, crashed or hung.

Results go to ``bench/out/mutate_ifc.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"
OUT = Path(__file__).resolve().parent / "out"
SOURCES = [
    ROOT / "sample_models" / "buildings" / "community_centre.ifc",
    FIXTURES / "ifc2x3" / "487.ifc",
    FIXTURES / "ifc4x3" / "wall_door_columnt_rgb4x3.ifc",
    FIXTURES / "mep" / "domestic-hot-water.ifc",
]
CITY_CRS = "EPSG:4549"
PLACEMENT = {"eastings": 464_900.0, "northings": 2_865_800.0, "height": 5.0}
TIMEOUT_S = 300
TERMINATOR = b"ENDSEC;\nEND-ISO-10303-21;\n"
_DEF = re.compile(rb"^#(\d+)\s*=\s*([A-Za-z0-9_]+)\s*\(", re.M)
_FLOAT = re.compile(rb"(?<![#\w.])-?\d+\.\d*(?:E[-+]?\d+)?")


class Ifc:
    """A STEP file split into the parts mutations work on (line endings kept as found)."""

    def __init__(self, data: bytes):
        self.data = data
        self.nl = b"\r\n" if b"\r\n" in data[:4096] else b"\n"
        start = data.index(b"DATA;") + len(b"DATA;")
        end = data.rindex(b"ENDSEC;")
        self.head, self.body, self.tail = data[:start], data[start:end], data[end:]
        self.lines = self.body.split(self.nl)

    def join(self, lines: list[bytes]) -> bytes:
        return self.head + self.nl.join(lines) + self.tail

    def defs(self, *types: str) -> list[int]:
        """Indexes of the DATA lines that define an entity of one of ``types`` (all when none given)."""
        want = {t.upper().encode() for t in types}
        out = []
        for i, line in enumerate(self.lines):
            m = _DEF.match(line)
            if m and (not want or m.group(2).upper() in want):
                out.append(i)
        return out

    def entity_lines(self) -> list[int]:
        return self.defs()


def _id(line: bytes) -> int:
    return int(_DEF.match(line).group(1))


def _max_id(ifc: Ifc) -> int:
    return max(_id(ifc.lines[i]) for i in ifc.entity_lines())


def truncate(frac: float, mid_line: bool = False) -> Callable[[Ifc, random.Random], bytes]:
    def mutate(ifc: Ifc, rng: random.Random) -> bytes:
        cut = int(len(ifc.body) * frac)
        body = ifc.body[:cut]
        if not mid_line:
            body = body[: body.rfind(ifc.nl) + 1]
        return ifc.head + body + ifc.nl + TERMINATOR
    return mutate


def delete_lines(count: int | float) -> Callable[[Ifc, random.Random], bytes]:
    def mutate(ifc: Ifc, rng: random.Random) -> bytes:
        idx = ifc.entity_lines()
        k = max(1, int(len(idx) * count)) if isinstance(count, float) else count
        gone = set(rng.sample(idx, min(k, len(idx))))
        return ifc.join([line for i, line in enumerate(ifc.lines) if i not in gone])
    return mutate


def duplicate_lines(ifc: Ifc, rng: random.Random) -> bytes:
    lines = list(ifc.lines)
    for i in sorted(rng.sample(ifc.entity_lines(), 5), reverse=True):
        lines.insert(i, lines[i])
    return ifc.join(lines)


def swap_ids(ifc: Ifc, rng: random.Random) -> bytes:
    lines = list(ifc.lines)
    for _ in range(3):
        a, b = rng.sample(ifc.entity_lines(), 2)
        ida, idb = _id(lines[a]), _id(lines[b])
        lines[a] = re.sub(rb"^#\d+", b"#%d" % idb, lines[a])
        lines[b] = re.sub(rb"^#\d+", b"#%d" % ida, lines[b])
    return ifc.join(lines)


def corrupt_number(token: bytes, where: str) -> Callable[[Ifc, random.Random], bytes]:
    """Replace one float of a random entity of class ``where`` by ``token``."""
    def mutate(ifc: Ifc, rng: random.Random) -> bytes:
        lines = list(ifc.lines)
        candidates = [i for i in ifc.defs(where) if _FLOAT.search(lines[i])] or \
            [i for i in ifc.entity_lines() if _FLOAT.search(lines[i])]
        i = rng.choice(candidates)
        hits = list(_FLOAT.finditer(lines[i]))
        m = rng.choice(hits)
        lines[i] = lines[i][:m.start()] + token + lines[i][m.end():]
        return ifc.join(lines)
    return mutate


def break_string(ifc: Ifc, rng: random.Random) -> bytes:
    lines = list(ifc.lines)
    i = rng.choice([i for i in ifc.entity_lines() if lines[i].count(b"'") >= 2])
    j = lines[i].rindex(b"'")
    lines[i] = lines[i][:j] + lines[i][j + 1:]
    return ifc.join(lines)


def non_utf8_syntax_error(ifc: Ifc, rng: random.Random) -> bytes:
    lines = list(ifc.lines)
    i = rng.choice(ifc.entity_lines())
    lines[i] = lines[i][:-2] + b",\xff\xfe\x80\xc3(" + lines[i][-2:]
    return ifc.join(lines)


def bom(ifc: Ifc, rng: random.Random) -> bytes:
    return b"\xef\xbb\xbf" + ifc.data


def crlf(ifc: Ifc, rng: random.Random) -> bytes:
    data = ifc.data.replace(b"\r\n", b"\n")
    return data.replace(b"\n", b"\r\n") if ifc.nl == b"\n" else data


def unknown_entity(ifc: Ifc, rng: random.Random) -> bytes:
    lines = list(ifc.lines)
    products = ifc.defs("IFCWALL", "IFCWALLSTANDARDCASE", "IFCSLAB", "IFCPIPESEGMENT", "IFCDUCTSEGMENT",
                        "IFCWINDOW", "IFCDOOR") or ifc.entity_lines()
    i = rng.choice(products)
    m = _DEF.match(lines[i])
    lines[i] = lines[i][:m.end(2)] + b"XYZ" + lines[i][m.end(2):]
    return ifc.join(lines)


def wrong_attribute_count(ifc: Ifc, rng: random.Random) -> bytes:
    lines = list(ifc.lines)
    i = rng.choice(ifc.defs("IFCSHAPEREPRESENTATION", "IFCEXTRUDEDAREASOLID", "IFCLOCALPLACEMENT"))
    body = lines[i].rstrip()
    lines[i] = body[: body.rindex(b",")] + b");"
    return ifc.join(lines)


def _placement_lines(ifc: Ifc) -> dict[int, int]:
    return {_id(ifc.lines[i]): i for i in ifc.defs("IFCLOCALPLACEMENT")}


def placement_cycle(top: bool) -> Callable[[Ifc, random.Random], bytes]:
    """A cycle at the root placement (everything is placed in it) or at one leaf placement (one product)."""
    def mutate(ifc: Ifc, rng: random.Random) -> bytes:
        lines = list(ifc.lines)
        place = _placement_lines(ifc)
        rel = {pid: re.match(rb"^#\d+\s*=\s*IFCLOCALPLACEMENT\(\s*(#\d+|\$)", lines[i], re.I).group(1)
               for pid, i in place.items()}
        if top:
            root = next(pid for pid, r in rel.items() if r == b"$")
            child = next((pid for pid, r in rel.items() if r == b"#%d" % root), root)
            i = place[root]
            lines[i] = re.sub(rb"IFCLOCALPLACEMENT\(\s*\$", b"IFCLOCALPLACEMENT(#%d" % child, lines[i], flags=re.I)
        else:
            referenced = {r for r in rel.values()}
            leaves = [pid for pid in place if b"#%d" % pid not in referenced and rel[pid] != b"$"]
            pid = rng.choice(leaves or list(place))
            i = place[pid]
            lines[i] = re.sub(rb"IFCLOCALPLACEMENT\(\s*(#\d+|\$)", b"IFCLOCALPLACEMENT(#%d" % pid, lines[i],
                              flags=re.I)
        return ifc.join(lines)
    return mutate


def deep_chain(depth: int) -> Callable[[Ifc, random.Random], bytes]:
    """One product's placement placed relative to a chain of ``depth`` identity placements."""
    def mutate(ifc: Ifc, rng: random.Random) -> bytes:
        lines = list(ifc.lines)
        place = _placement_lines(ifc)
        pid = rng.choice(sorted(place))
        i = place[pid]
        axis = re.search(rb",\s*(#\d+)\s*\)\s*;", lines[i]).group(1)
        base = _max_id(ifc) + 1
        chain = [b"#%d=IFCLOCALPLACEMENT($,%s);" % (base, axis)]
        chain += [b"#%d=IFCLOCALPLACEMENT(#%d,%s);" % (base + k, base + k - 1, axis) for k in range(1, depth)]
        lines[i] = re.sub(rb"IFCLOCALPLACEMENT\(\s*(#\d+|\$)", b"IFCLOCALPLACEMENT(#%d" % (base + depth - 1),
                          lines[i], flags=re.I)
        return ifc.join(lines + chain)
    return mutate


def far_product(offset_m: float, root: bool) -> Callable[[Ifc, random.Random], bytes]:
    """Move one product (or the root placement: everything) by ``offset_m`` metres in x."""
    def mutate(ifc: Ifc, rng: random.Random) -> bytes:
        lines = list(ifc.lines)
        place = _placement_lines(ifc)
        rel_root = [pid for pid, i in place.items() if re.search(rb"IFCLOCALPLACEMENT\(\s*\$", lines[i], re.I)]
        pid = rel_root[0] if root else rng.choice(sorted(set(place) - set(rel_root)) or sorted(place))
        i = place[pid]
        base = _max_id(ifc) + 1
        scale = _length_scale(ifc.data)
        far = offset_m / scale
        lines.append(b"#%d=IFCCARTESIANPOINT((%r,0.,0.));" % (base, far) if far < 1e200 else
                     b"#%d=IFCCARTESIANPOINT((1.E300,0.,0.));" % base)
        lines.append(b"#%d=IFCAXIS2PLACEMENT3D(#%d,$,$);" % (base + 1, base))
        lines[i] = re.sub(rb",\s*#\d+\s*\)\s*;\s*$", b",#%d);" % (base + 1), lines[i])
        return ifc.join(lines)
    return mutate


def _length_scale(data: bytes) -> float:
    if re.search(rb"IFCSIUNIT\(\*,\.LENGTHUNIT\.,\.MILLI\.", data, re.I):
        return 0.001
    if b"FOOT" in data.upper():
        return 0.3048
    return 1.0


MUTATIONS: dict[str, Callable[[Ifc, random.Random], bytes]] = {
    "truncate_30": truncate(0.3),
    "truncate_60": truncate(0.6),
    "truncate_90": truncate(0.9),
    "truncate_mid_line": truncate(0.5, mid_line=True),
    "delete_1_line": delete_lines(1),
    "delete_5pct_lines": delete_lines(0.05),
    "duplicate_lines": duplicate_lines,
    "swap_ids": swap_ids,
    "height_1e300": corrupt_number(b"1.E300", "IFCEXTRUDEDAREASOLID"),
    "coordinate_nan": corrupt_number(b"NaN", "IFCCARTESIANPOINT"),
    "coordinate_inf": corrupt_number(b"1.#INF", "IFCCARTESIANPOINT"),
    "break_string": break_string,
    "non_utf8_syntax_error": non_utf8_syntax_error,
    "bom": bom,
    "crlf": crlf,
    "unknown_entity": unknown_entity,
    "wrong_attribute_count": wrong_attribute_count,
    "placement_cycle_root": placement_cycle(top=True),
    "placement_cycle_leaf": placement_cycle(top=False),
    "deep_chain_20000": deep_chain(20_000),
    "product_1e300_away": far_product(1e300, root=False),
    "product_outside_crs": far_product(2.0e7, root=False),
    "everything_outside_crs": far_product(2.0e7, root=True),
}


def write_mutants(out: Path, seed: int, only: str | None = None) -> list[Path]:
    """Write every mutant of every available source into ``out``; deterministic for a given seed."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for source in SOURCES:
        if not source.exists():
            continue
        ifc = Ifc(source.read_bytes())
        stem = re.sub(r"[^A-Za-z0-9]+", "_", source.stem)[:24]
        for name, mutate in MUTATIONS.items():
            if only and only != name:
                continue
            rng = random.Random(f"{seed}:{source.name}:{name}")
            path = out / f"{stem}__{name}.ifc"
            path.write_bytes(mutate(ifc, rng))
            paths.append(path)
    return paths


def ingest_one(path: Path, store_dir: Path) -> dict:
    """Ingest one mutant into a fresh store (runs in a child process); the facts to classify it."""
    import ifcopenshell

    from cim.config import CityConfig
    from cim.ingest.run import ingest_file
    from cim.store import Store

    config = CityConfig(path=None, name="sweep", crs=CITY_CRS, models={path.name: {"placement": PLACEMENT}})
    store = Store(store_dir, CITY_CRS)
    outcome = ingest_file(store, config, path)
    facts = {"action": outcome.action, "stage": outcome.stage, "message": outcome.message}
    if outcome.action == "ingested":
        model = store.read("models").to_pylist()[-1]
        reported = [e for e in store.read("ingest_errors").to_pylist() if e["feature_id"]]
        data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
        products = ifcopenshell.file.from_string(data.decode("utf-8", "replace")).by_type("IfcProduct")
        with_body = {p.GlobalId for p in products if _has_body(p)}
        refused = {e["feature_id"] for e in reported if e["error_type"] == "ProductRefused"}
        no_geometry = {e["feature_id"] for e in reported if e["error_type"] == "ProductWithoutGeometry"}
        facts |= {"status": model["status"], "n_elements": model["n_elements"], "n_meshes": model["n_meshes"],
                  "n_refused": len(refused), "n_without_geometry": len(no_geometry), "n_products": len(products),
                  "n_with_body": len(with_body), "n_refused_with_body": len(refused & with_body)}
    return facts


def _has_body(product) -> bool:
    """Products ifcopenshell.geom meshes by default: a representation identified Body or Facetation."""
    shape = product.Representation
    reps = getattr(shape, "Representations", None) or () if shape is not None else ()
    return any((getattr(r, "RepresentationIdentifier", None) or "").lower() in ("body", "facetation") for r in reps)


def classify(path: Path, facts: dict) -> str:
    if facts.get("action") is None:
        return "uncaught"
    if facts["action"] == "quarantined":
        if facts["stage"] == "internal":
            return "internal"
        message = facts["message"] or ""
        one_line = "\n" not in message and str(path) in message
        return "refused" if one_line and facts["stage"] else "refused_unclear"
    if facts["status"] not in ("ok", "incomplete", "warning"):
        return "miscounted"
    products_counted = facts["n_elements"] + facts["n_refused"] == facts["n_products"]
    meshes_counted = (facts["n_meshes"] + facts["n_without_geometry"] + facts["n_refused_with_body"]
                      == facts["n_with_body"])
    return "accepted" if products_counted and meshes_counted else "miscounted"


def run(paths: list[Path]) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, path in enumerate(paths):
            store = Path(tmp) / f"s{k}"
            start = time.perf_counter()
            try:
                proc = subprocess.run([sys.executable, "-m", "bench.mutate_ifc", "--one", str(path), str(store)],
                                      capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT)
                lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
                facts = json.loads(lines[-1]) if proc.returncode == 0 and lines else \
                    {"crash": f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}"}
            except subprocess.TimeoutExpired:
                facts = {"crash": f"timeout after {TIMEOUT_S} s"}
            facts["class"] = classify(path, facts)
            facts["file"] = path.name
            facts["seconds"] = round(time.perf_counter() - start, 1)
            results.append(facts)
            print(f"{facts['class']:>10}  {path.name}  {facts.get('stage') or ''} "
                  f"{(facts.get('message') or facts.get('crash') or '')[:160]}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--out", type=Path, default=OUT / "mutants")
    parser.add_argument("--only", help="one mutation name")
    parser.add_argument("--one", nargs=2, metavar=("IFC", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(ingest_one(Path(args.one[0]), Path(args.one[1])), default=str))
        return
    results = run(write_mutants(args.out, args.seed, args.only))
    counts = Counter(r["class"] for r in results)
    summary = {"tried": len(results), **{k: counts.get(k, 0) for k in
               ("refused", "accepted", "miscounted", "refused_unclear", "internal", "uncaught")}}
    print(json.dumps(summary))
    OUT.mkdir(exist_ok=True)
    (OUT / "mutate_ifc.json").write_text(json.dumps({"summary": summary, "results": results}, indent=1))


if __name__ == "__main__":
    main()
