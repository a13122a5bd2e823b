"""`python -m ops.dev` as a developer runs it: starts, says where, and leaves nothing behind."""

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from common.waiting import wait_until
from ops.processes import REPO_ROOT

pytestmark = pytest.mark.integration


def processes_mentioning(marker: str) -> list[int]:
    """PIDs whose command line or environment names the run dir (gunicorn workers included)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker.encode() in (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "ctrl-c"])
def test_dev_command_prints_the_url_and_stops_every_child(tmp_path, stop_signal):
    command = subprocess.Popen(
        [sys.executable, "-m", "ops.dev", "--free-ports", "--ephemeral", "--workers", "1", "--run-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = []

    def ready_line() -> str | None:
        line = command.stdout.readline()
        assert line, "".join(output)
        output.append(line)
        return line if line.startswith("ready in") else None

    try:
        ready = wait_until(
            "ops.dev's 'ready in' line", ready_line, timeout=90, interval=0, explain=lambda: "".join(output)
        )
        url = re.search(r"(http://127\.0\.0\.1:\d+)/", ready).group(1)
        assert requests.get(f"{url}/api/customers/", timeout=10).status_code == 200
    finally:
        command.send_signal(stop_signal)
        try:
            rest, _ = command.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            # The signal did not stop it: SIGTERM (its other way out) so no process outlives the test.
            command.terminate()
            command.communicate(timeout=60)
            raise

    assert command.returncode == 0, rest
    assert "stopped" in rest
    assert processes_mentioning(str(tmp_path)) == []
