"""Prepare a Debian machine for testing the project, local mode and the benchmarks.

Installs the Debian packages the suites need (as root, with apt-get), starts a Docker engine
when none answers, and creates the Python virtualenv from requirements-dev.lock (hashes checked).
Every step is skipped when already done, so it is safe to run before every test run.
`make up` and the other Docker-side targets never run it: they need only ops.bootstrap.

    python3 -m ops.setup            # everything
    python3 -m ops.setup --no-docker --no-browser
    python3 -m ops.setup --venv-only

The virtualenv needs Python 3.11 to 3.13; this module runs on any python3 from 3.9 on, so that
an older one gets a sentence saying so.
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
# What pyproject.toml's requires-python accepts: the dev lock's Django needs 3.10+, the code 3.11+.
PYTHON_RANGE = ((3, 11), (3, 13))

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


def python_supported(version: tuple[int, ...]) -> bool:
    oldest, newest = PYTHON_RANGE
    return oldest <= tuple(version[:2]) <= newest


def venv_version(python: Path) -> tuple[int, ...] | None:
    """The (major, minor) of the virtualenv's Python; None when it has none that runs."""
    try:
        out = subprocess.run(
            [str(python), "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return tuple(int(part) for part in out.split())


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> None:
    if not python_supported(version):
        found = ".".join(str(part) for part in version[:2])
        sys.exit(
            f"The tests, local mode and the benchmarks need Python 3.11 to 3.13; {sys.executable} is {found}. "
            "Install one and pass it, e.g. make test PYTHON=python3.12 (make up needs only 3.9)."
        )


def ensure_virtualenv() -> None:
    python = VENV / "bin" / "python"
    version = venv_version(python) if VENV.exists() else None
    if VENV.exists() and (version is None or not python_supported(version)):
        # Typically the host side's venv of `make up`, made by an older python3.
        found = "no working Python" if version is None else "Python " + ".".join(map(str, version))
        step(f"{VENV} has {found}; making it again with {sys.version.split()[0]}")
        shutil.rmtree(VENV)
    if not VENV.exists():
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
    parser.add_argument("--venv-only", action="store_true", help="only the virtualenv (linters, make lock)")
    args = parser.parse_args(argv)

    check_python()
    if args.venv_only:
        ensure_virtualenv()
        return 0
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
