"""The host side's lock (requirements-host.lock, for `make up` on python3 3.9 and later) pins
what the images and the project's venv pin wherever the Python allows, so the host tooling runs
on the versions the everyday suite tests."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent.parent
# What pyproject.toml's requires-python starts at: the project's own venv.
PROJECT_PYTHON = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux"}


def pins(lock: Path, environment: dict[str, str]) -> dict[str, str]:
    """name -> version of every entry of a lock that applies to `environment`."""
    found = {}
    for line in lock.read_text().splitlines():
        if not re.match(r"^[A-Za-z0-9]", line):
            continue
        requirement = Requirement(line.rstrip(" \\"))
        if requirement.marker is None or requirement.marker.evaluate(environment):
            found[requirement.name.lower()] = str(requirement.specifier).removeprefix("==")
    return found


def test_on_the_projects_python_the_host_lock_pins_what_the_image_lock_pins() -> None:
    host = pins(REPO / "requirements-host.lock", PROJECT_PYTHON)
    images = pins(REPO / "requirements.lock", PROJECT_PYTHON)

    assert {"docker", "requests", "urllib3"} <= host.keys()
    assert {name: version for name, version in host.items() if images.get(name) != version} == {}


def test_on_python_3_9_the_host_lock_still_resolves_every_package() -> None:
    oldest = {**PROJECT_PYTHON, "python_version": "3.9", "python_full_version": "3.9.2"}

    host = pins(REPO / "requirements-host.lock", oldest)

    assert {"docker", "requests", "urllib3", "certifi", "idna", "charset-normalizer"} <= host.keys()
