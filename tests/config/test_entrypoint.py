"""manage.py and config.wsgi start only with DJANGO_SETTINGS_MODULE set: one code tree serves every
service, so a missing variable is an error that names it and its choices, never a default service."""

import os
import subprocess
import sys

import pytest

from ops.services import SERVICES
from tests.processes import REPO_ROOT

CHOICES = [s.settings for s in SERVICES if s.settings is not None]


def run_without_settings_module(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, *argv], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (("manage.py", "check"), "manage.py: DJANGO_SETTINGS_MODULE is not set."),
        (("-c", "import config.wsgi"), "ImproperlyConfigured: DJANGO_SETTINGS_MODULE is not set."),
    ],
)
def test_an_entry_point_refuses_to_start_without_a_settings_module(argv: tuple[str, ...], error: str) -> None:
    result = run_without_settings_module(*argv)

    assert result.returncode != 0
    assert error in result.stderr
    assert all(choice in result.stderr for choice in CHOICES), result.stderr
    assert "config.settings.base" not in result.stderr
