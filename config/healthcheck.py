"""The image's HEALTHCHECK: exit 0 when this container's gunicorn answers 200 on its BIND port.

The path is /healthz (the process lives), or HEALTHCHECK_PATH: viz's is /readyz, so a board that
cannot read the swarm is an unhealthy task, never a healthy one showing an error.

Plain standard library, so a probe costs one short Python start and needs no curl in the image.
"""

import os
import sys
import urllib.request


def main() -> int:
    port = os.environ.get("BIND", "0.0.0.0:8000").rsplit(":", 1)[-1]
    path = os.environ.get("HEALTHCHECK_PATH", "/healthz")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"{path} on port {port}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
