"""The gunicorn master runs nothing but the arbiter: gunicorn's control socket (an asyncio server
in a thread of the master, for the `gunicornc` tool) stays off. Nothing here uses it, every local
master would share one socket path under $HOME, and its thread and event loop cost each replica
about 2.5 MB (bench/README.md, "Memory per replica")."""

from pathlib import Path

from common.waiting import wait_until
from tests.processes import Gunicorn


def test_the_master_starts_no_control_socket(tmp_path: Path) -> None:
    # Where gunicorn would put it: $XDG_RUNTIME_DIR, else $HOME/.gunicorn.
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": "", "GUNICORN_LOG_LEVEL": "debug"}
    # Liveness only: no Redis needs to answer.
    service = Gunicorn("customers", {**env, "REDIS_URL": "redis://127.0.0.1:1/0"})
    service.start()
    try:
        # The master decides right after spawning its first workers, and says so at debug level.
        wait_until("the master's control socket step", lambda: "Control socket" in service.log_tail(200), timeout=30)
        log = service.log_tail(200)
    finally:
        service.stop()

    assert "Control socket disabled" in log
    assert "Control socket listening" not in log
    assert not (home / ".gunicorn").exists()
