"""Gunicorn settings for every deployable, driven by the environment.

SIGTERM makes gunicorn stop accepting connections and lets in-flight requests finish within
`graceful_timeout`, which stays below the stack's stop_grace_period.
"""

import gc
import os
import shutil
import tempfile

bind = os.environ.get("BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads, so a worker waiting on Redis or on another service serves other requests meanwhile,
# and connections stay open between requests (sync workers close every one, and the gateway
# then opens a new connection per request). GUNICORN_THREADS=1 gives the sync worker.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread" if threads > 1 else "sync"
# Longer than the slowest request of any service (a frontend page that waits for four reads and a
# write through the gateway, docker/README.md "Timeouts and retries"): with GUNICORN_THREADS=1 a
# request running this long gets its worker killed; with threads, only a stuck main loop does.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "90"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
# Longer than nginx's upstream keepalive_timeout (60 s): the gateway, not the service, closes an
# idle connection, so nginx never sends a request on a connection the service is closing.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
# The app logs one JSON line per request itself; gunicorn's access log would repeat it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Heartbeat files in memory, so a read-only root filesystem works.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Only the gateway reaches a service (private overlay networks), and it overwrites every
# X-Forwarded-* header a client sends; of those, only the scheme is read. X-Forwarded-Ssl and
# X-Forwarded-Protocol are not, so a contradictory pair can never turn into gunicorn's HTML 400.
forwarded_allow_ips = "*"
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
# As long as the gateway's own limit (8k), so an over-long URI gets the gateway's JSON 414,
# not gunicorn's HTML one.
limit_request_line = 8190
# No control socket (gunicorn's runtime interface for its `gunicornc` tool: change the worker
# count, reload, stop). Nothing here uses it; on by default it runs an asyncio server in a thread of
# the master (about 2.5 MB of unique memory per replica), every master on a host would share one
# socket path under $HOME, and the image's $HOME is not writable. Workers are managed by the
# orchestrator (the swarm's replicas, WEB_CONCURRENCY), not at run time.
control_socket_disable = True

# Metrics from all workers are aggregated through files in this directory (prometheus_client
# multiprocess mode); it must exist and be empty before the workers start.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="metrics-")
else:
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


# The master imports Django and the app once, and forks the workers from it: the code and what
# import built is shared copy-on-write instead of loaded by each worker (unique memory per
# replica, bench's PSS figure). Nothing opens a connection or starts a thread at import: Redis
# and HTTP pools and the invoice lookup threads start on first use, in each worker.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") != "0"


def pre_fork(server, worker):
    # Objects that exist now are left out of every later collection, so a worker's collector
    # never writes to the pages it shares with the master and its siblings.
    gc.freeze()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
