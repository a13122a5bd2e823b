"""The swarm visualizer: base settings + the viz app + where the Docker engine is. No Redis."""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, env, env_float

SERVICE_NAME = "viz"
INSTALLED_APPS = [*INSTALLED_APPS, "viz"]
ROOT_URLCONF = "config.urls.viz"

# A manager's engine, read-only; the same variable the docker CLI reads.
VIZ_DOCKER_HOST = env("DOCKER_HOST", "unix:///var/run/docker.sock")
VIZ_DOCKER_API_VERSION = env("VIZ_DOCKER_API_VERSION", "auto")
VIZ_DOCKER_TIMEOUT = int(env("VIZ_DOCKER_TIMEOUT", "3"))
# One engine round per this many seconds per process, however many browsers poll.
VIZ_SNAPSHOT_TTL = env_float("VIZ_SNAPSHOT_TTL", 0.5)
# Ended tasks (killed, failed, replaced) stay on the board this long so their going is seen.
VIZ_ENDED_TASK_SECONDS = env_float("VIZ_ENDED_TASK_SECONDS", 20.0)
# How often the page asks for a new picture.
VIZ_POLL_MILLISECONDS = int(env("VIZ_POLL_MILLISECONDS", "1000"))
