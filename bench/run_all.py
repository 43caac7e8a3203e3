"""Run every benchmark (`make bench`); results go to bench/out/*.json."""

from __future__ import annotations

import sys

from bench import ingest, nightly


def main() -> None:
    sys.argv = [sys.argv[0], "--sizes", "2000", "10000", "--memory", "50000"]
    ingest.main()
    nightly.main()


if __name__ == "__main__":
    main()
