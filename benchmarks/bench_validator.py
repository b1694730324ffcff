"""Micro-benchmark: the compiled row validator against frictionless' own validation.

Run: /work/venv/bin/python benchmarks/bench_validator.py [--rows 100000] [--runs 5]

Both validate the same JSON-native rows of a 6-field schema; frictionless runs on a subset
(it is much slower) and is reported in rows/s. Runs are interleaved and the medians shown.
"""

from __future__ import annotations

import argparse
import datetime
import random
import statistics
import time

from frictionless import Resource, Schema

from datasette_dataservice.schema.rows import compile_validator

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "email", "type": "string", "format": "email"},
        {"name": "name", "type": "string", "constraints": {"required": True}},
        {"name": "score", "type": "number", "constraints": {"minimum": 0}},
        {"name": "active", "type": "boolean"},
        {"name": "created_at", "type": "datetime"},
    ],
    "primaryKey": ["id"],
}


def make_rows(count: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    first = ["ada", "grace", "alan", "edsger", "barbara", "donald", "frances", "ken"]
    return [
        {
            "id": i,
            "email": f"{rng.choice(first)}.{i}@example{i % 97}.org",
            "name": f"{rng.choice(first).title()} {i}",
            "score": round(rng.uniform(0, 1000), 2),
            "active": rng.random() < 0.5,
            "created_at": (start + datetime.timedelta(seconds=rng.randrange(10**8)))
            .isoformat()
            .replace("+00:00", "Z"),
        }
        for i in range(1, count + 1)
    ]


def time_ours(rows: list[dict]) -> float:
    validator = compile_validator(SCHEMA)
    began = time.perf_counter()
    result = validator.validate_records(rows)
    elapsed = time.perf_counter() - began
    assert result.valid and len(result.rows) == len(rows), result.errors[:3]
    return elapsed


def time_ours_csv(header: list[str], cells: list[list[str]]) -> float:
    validator = compile_validator(SCHEMA)
    began = time.perf_counter()
    result = validator.validate_table(header, cells)
    elapsed = time.perf_counter() - began
    assert result.valid and len(result.rows) == len(cells), result.errors[:3]
    return elapsed


def as_csv(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    header = [field["name"] for field in SCHEMA["fields"]]
    text = {True: "true", False: "false"}
    return header, [
        [text.get(v, str(v)) if type(v) is bool else str(v) for v in row.values()] for row in rows
    ]


def time_frictionless(rows: list[dict]) -> float:
    schema = Schema.from_descriptor(SCHEMA)
    began = time.perf_counter()
    report = Resource(data=rows, schema=schema).validate()
    elapsed = time.perf_counter() - began
    assert report.valid, report.flatten(["rowNumber", "fieldName", "note"])[:3]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--subset", type=int, default=20_000, help="rows given to frictionless")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows = make_rows(args.rows)
    subset = rows[: args.subset]
    header, cells = as_csv(rows)
    compile_validator(SCHEMA)  # compile outside the timings, as a server would
    timings: dict[str, list[float]] = {"records": [], "csv": [], "frictionless": []}
    for _ in range(args.runs):  # interleaved, so that noise hits all alike
        timings["records"].append(time_ours(rows))
        timings["csv"].append(time_ours_csv(header, cells))
        timings["frictionless"].append(time_frictionless(subset))
    sizes = {"records": len(rows), "csv": len(cells), "frictionless": len(subset)}
    rates = {k: sizes[k] / statistics.median(v) for k, v in timings.items()}
    labels = {
        "records": "compiled validate_records (JSON)",
        "csv": "compiled validate_table (CSV)",
        "frictionless": "frictionless Resource.validate",
    }
    print(f"{'validator':<34}{'rows':>9}{'median s':>11}{'rows/s':>12}{'ratio':>8}")
    for key, label in labels.items():
        print(
            f"{label:<34}{sizes[key]:>9}{statistics.median(timings[key]):>11.3f}"
            f"{rates[key]:>12,.0f}{rates[key] / rates['frictionless']:>7.1f}x"
        )
    print(
        f"runs: {args.runs}, interleaved; medians shown. all runs (s): "
        + "; ".join(f"{k} {[round(t, 3) for t in v]}" for k, v in timings.items())
    )
    met = rates["records"] >= 500_000
    print(f"target >= 500,000 rows/s on JSON-native rows: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
