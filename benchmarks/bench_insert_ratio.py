"""Validated /-/insert at 10,000 rows/request against core's unvalidated insert: each run's ratio.

Run: python benchmarks/bench_insert_ratio.py [rows, default 50000] [runs, default 5]

The two contenders of bench_inserts.py that issue 16's target compares, alone, run after run
in alternating order; prints each run's rows/s and ratio, and the median ratio (the figure
to quote on a loaded machine, where a median of rates mixes different moments).
"""

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_inserts import empty, encode_batches, post_batches, prepare  # noqa: E402
from bench_validator import make_rows  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000


async def main():
    rows = make_rows(N)
    bodies = encode_batches(rows, 10_000)
    with tempfile.TemporaryDirectory() as tmp:
        ds, headers, table = await prepare(Path(tmp))
        managed = f"/{table['database']}/{table['physical_table_name']}/-/insert"
        ratios = []
        for run in range(int(sys.argv[2]) if len(sys.argv) > 2 else 5):
            t = {}
            for which in ["core", "managed"] if run % 2 else ["managed", "core"]:
                await empty(ds, table)
                path = managed if which == "managed" else "/plain/core_rows/-/insert"
                s = time.perf_counter()
                await post_batches(ds, headers, path, bodies)
                t[which] = time.perf_counter() - s
            ratios.append(t["core"] / t["managed"])
            print(
                f"core {N / t['core']:9,.0f}  managed {N / t['managed']:9,.0f}",
                f"ratio {ratios[-1]:.2f}",
            )
        print("median ratio", statistics.median(ratios))
        ds.close()


if __name__ == "__main__":
    asyncio.run(main())
