"""ops.setup installs nginx and redis-server as programs only: their system services are neither
started by the install (policy-rc.d says no) nor enabled for the next boot (systemctl disable).

apt-get and systemctl are stand-ins on PATH that record what they were asked and, for apt-get,
what policy-rc.d said while it ran: the install step itself runs for real.
"""

import os
import stat
from pathlib import Path

import pytest

from ops import setup

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="ops.setup installs packages as root only")

RECORDER = """#!/bin/sh
if [ -e {policy} ]; then policy="$(sh {policy} >/dev/null 2>&1; echo $?)"; else policy=none; fi
echo "$(basename "$0") policy=$policy $*" >> {log}
"""


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    bin_dir, log, policy = tmp_path / "bin", tmp_path / "calls.log", tmp_path / "policy-rc.d"
    bin_dir.mkdir()
    for tool in ("apt-get", "systemctl"):
        script = bin_dir / tool
        script.write_text(RECORDER.format(policy=policy, log=log))
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return log, policy


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines()


def test_nginx_and_redis_install_under_a_no_start_policy_then_get_disabled(recorded, tmp_path):
    log, policy = recorded
    systemd = tmp_path / "systemd"
    systemd.mkdir()

    setup.install_packages(["nginx-light", "redis-server", "wrk"], policy_rc_d=policy, systemd_running=systemd)

    assert calls(log) == [
        "apt-get policy=none update -qq",
        "apt-get policy=none install -y -qq --no-install-recommends wrk",
        "apt-get policy=101 install -y -qq --no-install-recommends nginx-light redis-server",
        "systemctl policy=none disable --now nginx redis-server",
    ]
    assert not policy.exists(), "the policy is gone after the install"


def test_without_systemd_nothing_needs_disabling(recorded, tmp_path):
    log, policy = recorded

    setup.install_packages(["nginx-light"], policy_rc_d=policy, systemd_running=tmp_path / "no-systemd")

    assert calls(log)[-1] == "apt-get policy=101 install -y -qq --no-install-recommends nginx-light"
    assert not any(call.startswith("systemctl") for call in calls(log))


def test_a_policy_the_machine_already_has_is_left_as_it_was(recorded, tmp_path):
    log, policy = recorded
    policy.write_text("#!/bin/sh\nexit 0\n")

    setup.install_packages(["nginx-light"], policy_rc_d=policy, systemd_running=tmp_path / "no-systemd")

    assert policy.read_text() == "#!/bin/sh\nexit 0\n"
    assert calls(log)[-1] == "apt-get policy=0 install -y -qq --no-install-recommends nginx-light"
