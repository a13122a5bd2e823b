"""The figures as a text table per N and as one JSON document."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from bench.machine import machine_info


def print_table(size: dict[str, object]) -> None:
    rows = size["scenarios"]
    assert isinstance(rows, dict)
    print(f"\n{size['title']}" if "title" in size else f"\nN = {size['n']:,}")
    header = (
        f"| {'scenario':<22} | {'req/s':>9} | {'p50 ms':>7} | {'p99 ms':>7} | {'errors':>6} "
        f"| {'CPU us/req':>10} | {'load':>5} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    for name, row in rows.items():
        cpu_by_group = row.get("cpu_us_per_request") or {}
        cpu = sum(cpu_by_group.values()) if cpu_by_group else "-"
        print(
            f"| {name:<22} | {row['requests_per_second']:>9.1f} | {row['p50_ms']:>7.2f} | {row['p99_ms']:>7.2f} "
            f"| {row['errors']:>6} | {cpu:>10} | {row['load_average_before'][0]:>5.2f} |"
        )
    print(flush=True)


def write_json(path: Path, results: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def print_markdown(columns: Sequence[str], align: str, rows: Iterable[Sequence[object]]) -> None:
    """A Markdown table, ready to paste into a README; `align` has an "l" or "r" per column."""
    print("| " + " | ".join(columns) + " |")
    print("| " + " | ".join("---:" if side == "r" else "---" for side in align) + " |")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def write_figures(path: Path | None, rows: list[dict[str, object]]) -> None:
    """The rows of a narrow benchmark with the machine they ran on, when an output file was asked for."""
    if path is not None:
        write_json(path, {"machine": machine_info(), "rows": rows})
