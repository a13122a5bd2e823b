"""The image's HEALTHCHECK: exit 0 when this container's gunicorn answers /healthz on its BIND port.

Plain standard library, so a probe costs one short Python start and needs no curl in the image.
"""

import os
import sys
import urllib.request


def main() -> int:
    port = os.environ.get("BIND", "0.0.0.0:8000").rsplit(":", 1)[-1]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"healthz on port {port}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
