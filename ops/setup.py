"""Prepare a Debian machine for running and testing the project.

Installs the Debian packages the suites need (as root, with apt-get), starts a Docker engine
when none answers, and creates the Python virtualenv from requirements-dev.lock (hashes checked).
Every step is skipped when already done, so it is safe to run before every test run.

    python3 -m ops.setup            # everything
    python3 -m ops.setup --no-docker --no-browser

Runs on any python3 from 3.9 on (it is what creates the project's 3.11+ virtualenv).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from common.waiting import WaitTimeout, wait_until

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV = REPO_ROOT / ".venv"
RUN_DIR = REPO_ROOT / ".run"
# The dev lock (made from requirements-dev.txt, which includes requirements.txt): every package
# pinned with the hashes of all its published files, so pip installs exactly these bytes.
DEV_LOCK = REPO_ROOT / "requirements-dev.lock"
DOCKER_START_TIMEOUT = 90

# executable that proves the package is there -> Debian package
BASE_PACKAGES = {"redis-server": "redis-server", "nginx": "nginx-light", "wrk": "wrk"}
DOCKER_PACKAGES = {"dockerd": "docker.io", "debootstrap": "debootstrap"}
BROWSER_PACKAGES = {"chromium": "chromium"}


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def missing_packages(wanted: dict[str, str]) -> list[str]:
    search_path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return sorted({package for binary, package in wanted.items() if not shutil.which(binary, path=search_path)})


# Packages installed for their programs only: local mode and the tests start their own nginx and
# redis-server. Their system services must not run: a host nginx holds port 80, which the stack's
# gateway publishes, and nothing here ever uses a host Redis.
BINARY_ONLY_PACKAGES = {"nginx-light": "nginx", "redis-server": "redis-server"}
# Debian's hook for "may this package start its daemon now?": exit 101 says no (see invoke-rc.d).
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
SYSTEMD_RUNNING = Path("/run/systemd/system")


def install_packages(
    packages: list[str], *, policy_rc_d: Path = POLICY_RC_D, systemd_running: Path = SYSTEMD_RUNNING
) -> None:
    if not packages:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit(f"Missing Debian packages: {' '.join(packages)}. Install them (apt-get install ...) and retry.")
    step(f"installing {' '.join(packages)} (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends"]
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    services = [package for package in packages if package in BINARY_ONLY_PACKAGES]
    others = [package for package in packages if package not in BINARY_ONLY_PACKAGES]
    if others:
        subprocess.run([*install, *others], check=True, env=env)
    if not services:
        return
    created = not policy_rc_d.exists()
    if created:
        policy_rc_d.write_text("#!/bin/sh\n# ops.setup: install without starting daemons\nexit 101\n")
        policy_rc_d.chmod(0o755)
    try:
        subprocess.run([*install, *services], check=True, env=env)
    finally:
        if created:
            policy_rc_d.unlink()
    units = [BINARY_ONLY_PACKAGES[package] for package in services]
    if systemd_running.is_dir():
        # The package enabled them for the next boot all the same.
        subprocess.run(["systemctl", "disable", "--now", *units], check=True)
    step(f"{', '.join(units)}: installed as programs only, system service not started nor enabled")


def docker_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def ensure_docker_engine() -> None:
    if docker_answers():
        step("Docker engine answers")
        return
    if os.geteuid() != 0:
        sys.exit("No Docker engine answers; start dockerd (or ask an administrator) and retry.")
    RUN_DIR.mkdir(exist_ok=True)
    log_path = RUN_DIR / "dockerd.log"
    step(f"starting dockerd in the background (log: {log_path})")
    with log_path.open("ab") as log:
        subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until("the Docker engine to answer", docker_answers, timeout=DOCKER_START_TIMEOUT, interval=1)
    except WaitTimeout as exc:
        sys.exit(f"{exc}; see {log_path}")
    step("Docker engine answers")


def ensure_virtualenv() -> None:
    python = VENV / "bin" / "python"
    if not python.exists():
        step(f"creating {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    stamp = VENV / ".requirements-installed"
    wanted = DEV_LOCK.read_text()
    if stamp.exists() and stamp.read_text() == wanted:
        step("Python dependencies are up to date")
        return
    step(f"installing Python dependencies ({DEV_LOCK.name}, hashes checked)")
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--require-hashes", "--requirement", str(DEV_LOCK)], check=True)
    stamp.write_text(wanted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-docker", action="store_true", help="skip Docker (swarm and cluster suites need it)")
    parser.add_argument("--no-browser", action="store_true", help="skip Chromium (browser suite needs it)")
    args = parser.parse_args(argv)

    wanted = dict(BASE_PACKAGES)
    if not args.no_docker:
        wanted |= DOCKER_PACKAGES
    if not args.no_browser:
        wanted |= BROWSER_PACKAGES
    install_packages(missing_packages(wanted))
    if not args.no_docker:
        ensure_docker_engine()
    ensure_virtualenv()
    return 0


if __name__ == "__main__":
    sys.exit(main())
