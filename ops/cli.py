"""What the ops command lines share: progress lines stamped with the seconds since start, and
`run`: run the chosen subcommand, and turn an expected failure into one ERROR line and exit
status 1 (no traceback); Ctrl-C exits 130."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

_started = time.monotonic()
_print_lock = threading.Lock()


def elapsed() -> float:
    """Seconds since the command started."""
    return time.monotonic() - _started


def say(message: str) -> None:
    # Builds print from several threads: one whole line each.
    with _print_lock:
        print(f"[{elapsed():6.1f}s] {message}", flush=True)


def run(args: argparse.Namespace, *, expected: tuple[type[Exception], ...], say: Callable[[str], None] = say) -> int:
    try:
        return args.func(args)
    except expected as exc:
        say(f"ERROR: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130
