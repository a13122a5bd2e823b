"""Run the whole system as local processes, without Docker.

Three redis-servers, the Django services under gunicorn (customers twice, so the
gateway has something to fail over to) and nginx with the gateway's own
docker/gateway/nginx.conf, rendered for 127.0.0.1 by ops.gateway_config.

    python -m ops.dev                 # gateway on http://127.0.0.1:8000/
    python -m ops.dev --gateway-port 9000
    python -m ops.dev --free-ports    # every port picked by the kernel
    python -m ops.dev --rate-limit off   # no per-client limit on the gateway (load tests)

The gateway listens twice, like in the stack: the public port (rate limited per
client address) and an internal one (same routes, no limit) that the services
and the frontend use to call the APIs.

The library behind it is ops.local (LocalSystem, Ports), built on the process
classes of ops.processes.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from common.waiting import WaitTimeout
from ops import credentials
from ops.local import DEFAULT_RUN_DIR, LocalSystem, Ports, check_prerequisites, default_ports, env_var_for
from ops.processes import ProcessError
from ops.services import API_SERVICES, service


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    defaults = Ports.from_env()
    parser = argparse.ArgumentParser(
        prog="python -m ops.dev",
        description=(
            "Run redis, the Django services (gunicorn) and the nginx gateway as local processes. "
            "Ctrl-C stops everything. Every port has a flag and a DEV_<NAME>_PORT variable."
        ),
    )
    for name in default_ports():
        parser.add_argument(
            "--" + name.replace("_", "-") + "-port",
            dest=f"{name}_port",
            metavar="PORT",
            type=int,
            default=defaults[name],
            help=f"(env {env_var_for(name)}; default %(default)s)",
        )
    parser.add_argument("--free-ports", action="store_true", help="let the kernel pick every port")
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=DEFAULT_RUN_DIR,
        help="logs, Redis data, nginx temp",
    )
    parser.add_argument("--ephemeral", action="store_true", help="Redis keeps nothing on disk")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per process")
    parser.add_argument(
        "--rate-limit",
        choices=("on", "off"),
        default="on",
        help="the gateway's per-client limit on the public port, as in production (default on); "
        "off for load tests from one address",
    )
    parser.add_argument(
        "--no-frontend",
        action="store_true",
        help="do not start the frontend (the gateway's / then answers 502 JSON)",
    )
    parser.add_argument(
        "--install",
        action="store_true",
        help="apt-get install missing redis-server/nginx (root only)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.free_ports:
        ports = Ports.free()
    else:
        ports = Ports({name: getattr(args, f"{name}_port") for name in default_ports()})

    stop_requested = False

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stop_requested
        stop_requested = True
        raise KeyboardInterrupt

    def interrupted(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, request_stop)
    # Ctrl-C stops everything even when this process was started with SIGINT ignored (as a
    # background job of a non-interactive shell is), where Python installs no handler of its own.
    signal.signal(signal.SIGINT, interrupted)
    system = LocalSystem(
        ports=ports,
        run_dir=args.run_dir.resolve(),
        persistent_redis=not args.ephemeral,
        with_frontend=not args.no_frontend,
        workers=args.workers,
        rate_limit=args.rate_limit == "on",
    )
    exit_code = 0
    try:
        check_prerequisites(install=args.install)
        print(f"starting local mode (run dir {system.run_dir})")
        started = time.monotonic()
        system.start()
        _print_ready(system, time.monotonic() - started)
        exit_code = _supervise(system)
    except KeyboardInterrupt:
        print("\nSIGTERM received, stopping ..." if stop_requested else "\nstopping ...")
    except (ProcessError, WaitTimeout) as error:
        print(f"error: {error}", file=sys.stderr)
        exit_code = 1
    finally:
        # A second Ctrl-C must not leave half the children running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        system.stop()
        print("stopped: no local-mode process is left running")
    return exit_code


def _supervise(system: LocalSystem) -> int:
    """Block until Ctrl-C/SIGTERM; a child dying on its own stops everything."""
    while True:
        for child in system.children:
            if not child.running():
                print(f"\n{child.name} (pid {child.pid}) exited with {child.exit_code}:")
                print(child.log_tail())
                print("stopping everything")
                return 1
        time.sleep(0.5)


def _print_ready(system: LocalSystem, seconds: float) -> None:
    url = system.gateway_url
    print()
    print(f"ready in {seconds:.1f}s: {url}/")
    for name in API_SERVICES:
        prefix = f"{url}{service(name).url_prefix}"
        print(f"  {name + ' API':<14} {prefix:<{len(url) + 16}} (docs {prefix}docs/)")
    if system.with_frontend:
        print(f"  frontend       {url}/")
    else:
        print(f"  frontend       not started (--no-frontend); {url}/ answers 502 JSON")
    limit = "rate limited per client, as in production" if system.rate_limit else "rate limit OFF"
    print(f"  gateway        {url}/ ({limit}); internal listener {system.internal_url}/ (never limited)")
    print(f"  logs           {system.log_dir}/*.log (gateway.log is the JSON access log)")
    print(credentials.describe(system.credentials, system.credentials_path, shown=system.credentials_created))
    print("Ctrl-C stops everything.")


if __name__ == "__main__":
    raise SystemExit(main())
