"""Does IfcClash lose clashes far from the origin? The same probe model at several offsets, scored each time.

    python -m bench.clash_offsets --cpus 1

The probe is a small generated model (about 200 elements, two planted clashes of each kind) whose object
placements are moved ``offset`` metres east while its map conversion moves back, so the city position and the
planted clashes are the same in every copy; only the size of the local coordinates changes. An offset is metres
east, or "east,north" (the city's own coordinates, 464900,2865800, put the model where a survey export would).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench.clash_models import generate
from bench.ifcclash_run import OUT, bench_model

DEFAULT = ["0", "500", "500000", "500,500", "5000,5000", "500000,500000", "464900,2865800"]


def parse_offset(text: str) -> tuple[float, float]:
    """An offset: "500" is 500 m east, "464900,2865800" is east and north."""
    parts = [float(v) for v in str(text).split(",")]
    if len(parts) not in (1, 2):
        raise argparse.ArgumentTypeError(f"offset {text!r}: give metres east, or east,north")
    return (parts[0], parts[1] if len(parts) == 2 else 0.0)


def probe(offsets: list[tuple[float, float]], *, n_elements: int = 200, seed: int = 0, cpus: int | None = None,
          work: Path | None = None) -> list[dict]:
    """Score IfcClash's two clash sets on one probe model per offset."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="clash-offsets-") as tmp:
        folder = work or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for east, north in offsets:
            path = folder / f"probe_{int(east)}_{int(north)}.ifc"
            truth = generate(path, n_elements, offset=(east, north), seed=seed)
            row = bench_model(path, truth, cpus=cpus)
            rows.append({"offset_m": [east, north], **row})
    return rows


def _line(row: dict) -> str:
    parts = []
    for name, s in row["scores"].items():
        kinds = ", ".join(f"{k} {v['found']}/{v['planted']}" for k, v in sorted(s["by_kind"].items()))
        parts.append(f"{name}: {s['found']}/{s['expected']} ({kinds}), false {s['n_false']} {s['false'] or ''}")
    east, north = row["offset_m"]
    return f"offset {east:>9,.0f} E {north:>11,.0f} N m: " + "; ".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--offsets", type=parse_offset, nargs="*", default=DEFAULT,
                        help='metres east, or "east,north"')
    parser.add_argument("--elements", type=int, default=200, help="size of the probe model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cpus", type=int, default=None, help="pin IfcClash to this many cores (default: all)")
    parser.add_argument("--work", type=Path, default=None, help="keep the probe models here (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=OUT / "clash_offsets.json")
    args = parser.parse_args(argv)
    offsets = [parse_offset(o) if isinstance(o, str) else o for o in args.offsets]
    rows = probe(offsets, n_elements=args.elements, seed=args.seed, cpus=args.cpus, work=args.work)
    for row in rows:
        print(_line(row))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1, default=list))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
