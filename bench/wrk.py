"""One wrk run and its figures."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

LUA_SCRIPT = Path(__file__).resolve().parent / "wrk.lua"
MARKER = "BENCH_JSON "


class WrkError(RuntimeError):
    pass


@dataclass(frozen=True)
class Figures:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors: int
    status_errors: int
    socket_errors: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkError("wrk not found: sudo apt-get install wrk")
    return path


# Runs a wrk command line to its end: (exit status, stdout, stderr). Local mode runs it here; swarm
# mode in a container on the stack's network (bench/swarm.py).
WrkRunner = Callable[[list[str], float], tuple[int, str, str]]


def run_here(argv: list[str], timeout: float) -> tuple[int, str, str]:
    result = subprocess.run([wrk_path(), *argv[1:]], capture_output=True, text=True, check=False, timeout=timeout)
    return result.returncode, result.stdout, result.stderr


def run_wrk(
    url: str,
    *,
    threads: int,
    connections: int,
    seconds: float,
    lua_args: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
    runner: WrkRunner = run_here,
    script: str = str(LUA_SCRIPT),
) -> Figures:
    """wrk against one URL, with `headers` on every request; errors are responses >= 400 plus
    socket errors (connect, read, write, timeout). `runner` runs the command line (`script` is
    wrk.lua's path where it runs)."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "-s", script]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(url)
    if lua_args:
        argv += ["--", *lua_args]
    returncode, stdout, stderr = runner(argv, seconds + 60)
    line = next((line for line in stdout.splitlines() if line.startswith(MARKER)), None)
    if returncode != 0 or line is None:
        raise WrkError(f"wrk failed ({returncode}) on {url}:\n{stdout}\n{stderr}")
    raw = json.loads(line.removeprefix(MARKER))
    socket_errors = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"]
    return Figures(
        requests_per_second=round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        p50_ms=round(raw["p50_us"] / 1000, 2),
        p99_ms=round(raw["p99_us"] / 1000, 2),
        max_ms=round(raw["max_us"] / 1000, 2),
        requests=raw["requests"],
        errors=raw["status_errors"] + socket_errors,
        status_errors=raw["status_errors"],
        socket_errors=socket_errors,
    )
