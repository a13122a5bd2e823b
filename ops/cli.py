"""What the ops command lines share: run the chosen subcommand, and turn an expected failure
into one ERROR line and exit status 1 (no traceback); Ctrl-C exits 130."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def run(args: argparse.Namespace, *, expected: tuple[type[Exception], ...], say: Callable[[str], None]) -> int:
    try:
        return args.func(args)
    except expected as exc:
        say(f"ERROR: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130
