"""The wheelhouse: wheels of every Python dependency, in build/wheelhouse, for offline image builds.

ops.images fills it before building a Django image; docker/Dockerfile installs from it with
no index.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from ops import engine
from ops.bases import BUILD_DIR, BuildError, host_ca_bundle
from ops.cli import say

WHEELHOUSE = BUILD_DIR / "wheelhouse"
PIP_CACHE = BUILD_DIR / "pip-cache"


def fill_wheelhouse(requirements: Path, python_image: str) -> None:
    """Wheels for the dependencies, made by the base image's own interpreter.

    Running pip inside the base (host network, host CA bundle) evaluates environment markers
    for the exact Python of the image: Debian's 3.11.2 needs backports that a newer 3.11 does
    not, which a `pip download --python-version` on the host would miss. Refreshed only when
    requirements.lock or the base image change.
    """
    image = engine.local().image(python_image)
    image_id = image.id if image else ""
    digest = hashlib.sha256(requirements.read_bytes() + image_id.encode()).hexdigest()
    stamp = WHEELHOUSE / ".stamp"
    if stamp.is_file() and stamp.read_text().strip() == digest:
        say(f"wheelhouse: up to date ({len(list(WHEELHOUSE.glob('*.whl')))} wheels)")
        return
    started = time.monotonic()
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    # Filled beside the old one and swapped in whole: an image build never sees half of it.
    fresh = Path(tempfile.mkdtemp(prefix=".wheelhouse-", dir=BUILD_DIR))
    fresh.chmod(0o755)
    script = (
        "python3 -m venv /tmp/venv && /tmp/venv/bin/pip wheel --quiet"
        " --require-hashes --wheel-dir /wheelhouse --requirement /requirements.lock"
    )
    env = {"PIP_CERT": "/etc/host-ca.crt", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    # A pip cache on the host makes a refill after one changed pin download only that one.
    PIP_CACHE.mkdir(parents=True, exist_ok=True)
    env.update({"PIP_CACHE_DIR": "/pip-cache", "HOME": "/tmp"})  # noqa: S108 (the container's /tmp)
    volumes = [f"{PIP_CACHE}:/pip-cache", f"{host_ca_bundle()}:/etc/host-ca.crt:ro"]
    volumes += [f"{requirements}:/requirements.lock:ro", f"{fresh}:/wheelhouse"]
    say(f"wheelhouse: pip wheel inside {python_image}")
    result = engine.local().run_to_end(
        python_image,
        ["sh", "-c", script],
        network="host",
        user=f"{os.getuid()}:{os.getgid()}",
        env=env,
        volumes=volumes,
    )
    if result.returncode:
        shutil.rmtree(fresh, ignore_errors=True)
        raise BuildError(f"filling the wheelhouse failed:\n{result.stderr[-3000:]}")
    (fresh / ".stamp").write_text(digest + "\n")
    shutil.rmtree(WHEELHOUSE, ignore_errors=True)
    fresh.rename(WHEELHOUSE)
    count = len(list(WHEELHOUSE.glob("*.whl")))
    say(f"wheelhouse: {count} wheels in {time.monotonic() - started:.1f}s")
