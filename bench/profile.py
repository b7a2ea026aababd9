"""Extraction + landing of a folder of exports under cProfile: where the largest remaining cost goes.

    .venv/bin/python -m bench.profile FOLDER [--rows 15]

Prints the step times, then the functions with the most time of their own. Cell contents never appear:
only function names, call counts and seconds.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path

from flows.pipeline.land import land_sync
from flows.sources.config import load_source_config
from flows.sources.files import read_folder


def profile(folder: Path, rows: int) -> str:
    """Step times and the top functions by own time, for reading then landing one folder."""
    config = load_source_config(folder / "sources.toml")
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory(prefix="pdn-profile-") as scratch:
        started = time.perf_counter()
        profiler.enable()
        snapshots = read_folder(folder, config).snapshots
        read = time.perf_counter()
        land_sync(Path(scratch) / "raw.duckdb", "profil", "fichiers", config.departements, snapshots, [], b"profil" * 4)
        profiler.disable()
        landed = time.perf_counter()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime")
    stats.print_stats(rows)
    table = out.getvalue()
    table = table[table.index("   ncalls"):] if "   ncalls" in table else table
    return f"extraction {read - started:.2f} s, landing {landed - read:.2f} s (under cProfile)\n\n{table}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--rows", type=int, default=15)
    args = parser.parse_args(argv)
    print(profile(args.folder, args.rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
