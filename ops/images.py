"""Build the project's container images.

    python -m ops.images build [--tag v1] [--registry demo] [--offline auto|yes|no] [--service ...]
    python -m ops.images build --broken --tag v3     # customers image whose healthcheck always fails
    python -m ops.images bases [--force]              # only the offline base images
    python -m ops.images sizes [--registry demo]      # what is built, and how big

Every Django deployable comes from docker/Dockerfile (SERVICE build arg); Redis from
docker/redis/Dockerfile; the gateway from docker/gateway/Dockerfile (NGINX_IMAGE build arg).

Base images: the public python, nginx and redis images when Docker Hub is reachable (or they
are already local); otherwise equivalents built from Debian bookworm packages with
debootstrap and `docker import` ("offline bases"). The Debian mirror and any HTTP proxy are
read from the host's own apt configuration at run time.

Python dependencies are fetched once into build/wheelhouse (`pip wheel` run inside the python
base on the host network); image builds then install from there, offline.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import fcntl
import hashlib
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from ops import cli

REPO = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO / "build"
WHEELHOUSE = BUILD_DIR / "wheelhouse"
LOG_DIR = BUILD_DIR / "logs" / "images"
DEB_CACHE = BUILD_DIR / "debs"
PIP_CACHE = BUILD_DIR / "pip-cache"
DEBIAN_SUITE = "bookworm"

DJANGO_SERVICES = ("customers", "products", "invoices", "frontend", "viz")
OTHER_SERVICES = ("redis", "gateway")

_started = time.monotonic()
_print_lock = threading.Lock()


def say(message: str) -> None:
    with _print_lock:
        print(f"[{time.monotonic() - _started:7.1f}s] {message}", flush=True)


class BuildError(RuntimeError):
    pass


# ------------------------------------------------------------------------------
# Base images
# ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Base:
    key: str
    build_arg: str
    public: str
    offline: str
    packages: tuple[str, ...]
    # Dockerfile instructions `docker import --change` applies to the imported rootfs.
    changes: tuple[str, ...]
    finish: Callable[[Path], None]


def _dockerfile_default(dockerfile: str, arg: str, fallback: str) -> str:
    """The public base a Dockerfile names by default, so that name lives in one place."""
    path = REPO / dockerfile
    text = path.read_text() if path.is_file() else ""
    match = re.search(rf"^ARG\s+{arg}=(\S+)", text, re.MULTILINE)
    return match.group(1) if match else fallback


# `docker import` images carry no environment at all; the public images set this PATH.
_DEFAULT_PATH = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _finish_python(rootfs: Path) -> None:
    # The bundle has to include the CA of any intercepting HTTPS proxy, or pip fails in builds.
    shutil.copyfile(host_ca_bundle(), rootfs / "etc/ssl/certs/ca-certificates.crt")
    # The public image answers to `python` as well; Dockerfiles may rely on it.
    (rootfs / "usr/local/bin/python").symlink_to("/usr/bin/python3")


def _finish_nginx(rootfs: Path) -> None:
    # Logs to the container's stdout/stderr, as in the public image.
    log_dir = rootfs / "var/log/nginx"
    log_dir.mkdir(parents=True, exist_ok=True)
    for name, target in (("access.log", "/dev/stdout"), ("error.log", "/dev/stderr")):
        (log_dir / name).unlink(missing_ok=True)
        (log_dir / name).symlink_to(target)
    (rootfs / "etc/nginx/sites-enabled/default").unlink(missing_ok=True)


def _finish_redis(rootfs: Path) -> None:
    uid, gid = _passwd_ids(rootfs, "redis")
    for path in (rootfs / "data", rootfs / "usr/local/etc/redis"):
        path.mkdir(parents=True, exist_ok=True)
    os.chown(rootfs / "data", uid, gid)


BASES = {
    "python": Base(
        key="python",
        build_arg="PYTHON_IMAGE",
        public=_dockerfile_default("docker/Dockerfile", "PYTHON_IMAGE", "python:3.11-slim-bookworm"),
        offline="offline/python:3.11-bookworm",
        packages=("python3", "python3-venv", "ca-certificates"),
        changes=(
            "ENV LANG=C.UTF-8",
            "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
            'CMD ["python3"]',
        ),
        finish=_finish_python,
    ),
    "nginx": Base(
        key="nginx",
        build_arg="NGINX_IMAGE",
        public=_dockerfile_default("docker/gateway/Dockerfile", "NGINX_IMAGE", "nginx:bookworm"),
        offline="offline/nginx:bookworm",
        packages=("nginx-light",),
        changes=(
            # `docker import` cannot set STOPSIGNAL: the gateway Dockerfile sets SIGQUIT itself.
            "EXPOSE 80",
            'CMD ["nginx", "-g", "daemon off;"]',
        ),
        finish=_finish_nginx,
    ),
    "redis": Base(
        key="redis",
        build_arg="REDIS_IMAGE",
        public=_dockerfile_default("docker/redis/Dockerfile", "REDIS_IMAGE", "redis:7-bookworm"),
        offline="offline/redis:bookworm",
        packages=("redis-server",),
        changes=(
            # The public image drops to this user in its entrypoint; this one never is root.
            "USER redis",
            "WORKDIR /data",
            'VOLUME ["/data"]',
            "EXPOSE 6379",
            'CMD ["redis-server"]',
        ),
        finish=_finish_redis,
    ),
}

SERVICE_BASE = {**dict.fromkeys(DJANGO_SERVICES, "python"), "redis": "redis", "gateway": "nginx"}

# Left out of every rootfs: documentation, translations, package indexes and downloads.
_PRUNE = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "var/lib/apt/lists",
    "var/cache/apt",
    "var/cache/debconf",
    "var/log",
    "tmp",
)
# Written by debootstrap from the build host; the container runtime provides its own.
_HOST_FILES = ("etc/resolv.conf", "etc/hostname", "etc/hosts")
# Keeps later apt-get installs in derived images as lean as the base.
_DPKG_LEAN = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
"""
_APT_LEAN = 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'


def host_ca_bundle() -> Path:
    """The CA bundle the host trusts (it includes any intercepting proxy's CA)."""
    for candidate in (os.environ.get("SSL_CERT_FILE"), ssl.get_default_verify_paths().openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate).resolve()
    raise BuildError("no CA bundle found on this host; set SSL_CERT_FILE")


def _passwd_ids(rootfs: Path, user: str) -> tuple[int, int]:
    for line in (rootfs / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2]), int(fields[3])
    raise BuildError(f"user {user} missing from the {rootfs.name} rootfs")


@dataclasses.dataclass(frozen=True)
class AptSource:
    mirror: str
    # (uri, suite) the host also takes updates from, e.g. the security archive
    updates: tuple[tuple[str, str], ...]
    # scheme -> proxy URL, as the host's apt (or environment) sets them
    proxies: dict[str, str]

    def environment(self) -> dict[str, str]:
        return {f"{scheme}_proxy": url for scheme, url in self.proxies.items()}


def host_apt_source(
    suite: str = DEBIAN_SUITE, mirror_override: str | None = None, etc_apt: Path | None = None
) -> AptSource:
    """The Debian mirror and proxy the host's apt uses, so debootstrap goes the same way."""
    proxies = {}
    for scheme in ("http", "https"):
        url = _apt_config_value(f"Acquire::{scheme}::Proxy") or os.environ.get(f"{scheme}_proxy")
        if url and url not in ("DIRECT", "false"):
            proxies[scheme] = url
    entries = list(_host_apt_entries(etc_apt))
    updates = tuple(
        (uri.rstrip("/"), name)
        for uri, suites in entries
        for name in sorted(suites)
        if name in (f"{suite}-updates", f"{suite}-security")
    )
    if mirror_override:
        return AptSource(mirror=mirror_override, updates=updates, proxies=proxies)
    for uri, suites in entries:
        if suite in suites and "/debian" in uri and "security" not in uri:
            return AptSource(mirror=uri.rstrip("/"), updates=updates, proxies=proxies)
    raise BuildError(f"no Debian {suite} mirror in the host's apt sources; pass --mirror URL")


def _apt_config_value(key: str) -> str | None:
    try:
        out = subprocess.run(["apt-config", "dump", key], capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        return None
    match = re.search(rf'^{re.escape(key)} "([^"]*)";', out, re.MULTILINE)
    return match.group(1) if match and match.group(1) else None


def _host_apt_entries(etc_apt: Path | None = None) -> Iterable[tuple[str, set[str]]]:
    """(uri, suites) for every enabled deb entry, one-line and deb822 formats."""
    if etc_apt is None:
        etc_apt = Path(_apt_config_value("Dir::Etc") or "etc/apt")
        etc_apt = etc_apt if etc_apt.is_absolute() else Path("/") / etc_apt
    files = [etc_apt / "sources.list", *sorted((etc_apt / "sources.list.d").glob("*.list"))]
    for path in files:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb":
                yield words[1], {words[2]}
    for path in sorted((etc_apt / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                name, value = line.split(":", 1)
                fields[name.strip().lower()] = value.strip()
            if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes").lower() != "no":
                for uri in fields.get("uris", "").split():
                    yield uri, set(fields.get("suites", "").split())


def image_exists(ref: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", ref], capture_output=True, check=False).returncode == 0


def public_base_usable(base: Base, pull_timeout: float) -> bool:
    if image_exists(base.public):
        say(f"base {base.key}: {base.public} is local")
        return True
    say(f"base {base.key}: trying docker pull {base.public} (timeout {pull_timeout:.0f}s)")
    try:
        pulled = subprocess.run(
            ["docker", "pull", "--quiet", base.public],
            capture_output=True,
            text=True,
            timeout=pull_timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        say(f"base {base.key}: pull timed out")
        return False
    if pulled.returncode == 0:
        say(f"base {base.key}: pulled {base.public}")
        return True
    reason = (pulled.stderr.strip().splitlines() or ["no error output"])[-1]
    say(f"base {base.key}: pull failed: {reason}")
    return False


def choose_bases(keys: Sequence[str], offline: str, pull_timeout: float) -> dict[str, Base | None]:
    """key -> Base whose offline image must be used, or None for the public image."""
    if offline == "yes":
        return {key: BASES[key] for key in keys}
    if offline == "no":
        return dict.fromkeys(keys)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(keys) or 1) as pool:
        usable = dict(zip(keys, pool.map(lambda key: public_base_usable(BASES[key], pull_timeout), keys), strict=True))
    return {key: None if usable[key] else BASES[key] for key in keys}


def build_offline_bases(bases: Sequence[Base], *, force: bool, mirror: str | None) -> None:
    """Build the missing offline bases, in parallel (debootstrap is mostly single-threaded)."""
    todo = [base for base in bases if force or not image_exists(base.offline)]
    for base in bases:
        if base not in todo:
            say(f"base {base.key}: {base.offline} exists, kept (--force-bases rebuilds)")
    if not todo:
        return
    for tool in ("debootstrap", "tar"):
        if not shutil.which(tool):
            raise BuildError(f"{tool} is needed to build offline bases (apt-get install {tool})")
    if os.geteuid() != 0:
        raise BuildError("debootstrap needs root to build the offline bases")
    source = host_apt_source(mirror_override=mirror)
    say(f"offline bases: debootstrap {DEBIAN_SUITE} for {', '.join(b.key for b in todo)}")
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(todo)) as pool:
        futures = {pool.submit(_build_offline_base, base, source): base for base in todo}
        errors = []
        for future in concurrent.futures.as_completed(futures):
            try:
                future.result()
            except BuildError as exc:
                errors.append(str(exc))
    if errors:
        raise BuildError("; ".join(errors))


def _build_offline_base(base: Base, source: AptSource) -> None:
    started = time.monotonic()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    cache = DEB_CACHE / base.key
    cache.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"base-{base.key}.log"
    workdir = Path(tempfile.mkdtemp(prefix=f"base-{base.key}-", dir="/var/tmp"))
    rootfs = workdir / "rootfs"
    env = {**os.environ, **source.environment()}
    try:
        say(f"base {base.key}: debootstrap (log: {log_path.relative_to(REPO)})")
        cmd = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(base.packages)}",
            f"--cache-dir={cache}",
            DEBIAN_SUITE,
            str(rootfs),
            source.mirror,
        ]
        _run_logged(cmd, log_path, env=env, what=f"debootstrap for {base.key}")
        _unmount_below(rootfs)
        _apply_updates(rootfs, source, log_path, env)
        base.finish(rootfs)
        _slim_rootfs(rootfs)
        say(f"base {base.key}: docker import {base.offline}")
        _docker_import(rootfs, base)
    finally:
        _unmount_below(rootfs)
        # --one-file-system: never follow a mount that might still point into the host.
        subprocess.run(["rm", "-rf", "--one-file-system", str(workdir)], check=False)
    say(f"base {base.key}: {base.offline} ready in {time.monotonic() - started:.0f}s, {_size(base.offline)}")


def _apply_updates(rootfs: Path, source: AptSource, log_path: Path, env: dict[str, str]) -> None:
    """Bring the rootfs up to the updates and security suites the host itself uses.

    debootstrap installs from the release suite only, which lacks fixes published since the
    last point release.
    """
    lines = [f"deb {source.mirror} {DEBIAN_SUITE} main", *(f"deb {uri} {suite} main" for uri, suite in source.updates)]
    (rootfs / "etc/apt/sources.list").write_text("\n".join(lines) + "\n")
    if not source.updates:
        return
    # Services whose packages get upgraded must not be started inside the chroot.
    policy = rootfs / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    chroot_env = {**env, "DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    upgrade = "apt-get update -qq && apt-get -y -qq -o Dpkg::Options::=--force-confold upgrade && apt-get clean"
    try:
        _run_logged(
            ["chroot", str(rootfs), "sh", "-c", upgrade],
            log_path,
            env=chroot_env,
            what=f"apt-get upgrade in {rootfs.parent.name}",
            append=True,
        )
    finally:
        policy.unlink(missing_ok=True)


def _unmount_below(path: Path) -> None:
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], check=False)


def _slim_rootfs(rootfs: Path) -> None:
    for relative in _PRUNE:
        target = rootfs / relative
        if target.is_dir():
            for child in target.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
    (rootfs / "tmp").chmod(0o1777)
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
    for relative in _HOST_FILES:
        target = rootfs / relative
        target.unlink(missing_ok=True)
        target.touch()
    (rootfs / "etc/dpkg/dpkg.cfg.d/lean-image").write_text(_DPKG_LEAN)
    (rootfs / "etc/apt/apt.conf.d/lean-image").write_text(_APT_LEAN)


def _docker_import(rootfs: Path, base: Base) -> None:
    changes = [
        _DEFAULT_PATH,
        *base.changes,
        f'LABEL org.opencontainers.image.description="Debian {DEBIAN_SUITE} minbase with {" ".join(base.packages)}"',
    ]
    import_cmd = ["docker", "import"]
    for change in changes:
        import_cmd += ["--change", change]
    import_cmd += ["-", base.offline]
    tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    try:
        imported = subprocess.run(import_cmd, stdin=tar.stdout, capture_output=True, text=True, check=False)
    finally:
        assert tar.stdout is not None
        tar.stdout.close()
        tar.wait()
    if tar.returncode or imported.returncode:
        raise BuildError(f"docker import of {base.offline} failed: {imported.stderr.strip()}")


# ------------------------------------------------------------------------------
# Wheelhouse
# ------------------------------------------------------------------------------
def fill_wheelhouse(requirements: Path, python_image: str) -> None:
    """Wheels for the dependencies, made by the base image's own interpreter.

    Running pip inside the base (host network, host CA bundle) evaluates environment markers
    for the exact Python of the image: Debian's 3.11.2 needs backports that a newer 3.11 does
    not, which a `pip download --python-version` on the host would miss. Refreshed only when
    requirements.lock or the base image change.
    """
    image_id = _inspect(python_image, "{{.Id}}")
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
    cmd = ["docker", "run", "--rm", "--network", "host", "--user", f"{os.getuid()}:{os.getgid()}"]
    cmd += ["--env", "PIP_CERT=/etc/host-ca.crt", "--env", "PIP_DISABLE_PIP_VERSION_CHECK=1"]
    # A pip cache on the host makes a refill after one changed pin download only that one.
    PIP_CACHE.mkdir(parents=True, exist_ok=True)
    cmd += ["--env", "PIP_CACHE_DIR=/pip-cache", "--env", "HOME=/tmp", "--volume", f"{PIP_CACHE}:/pip-cache"]
    cmd += ["--volume", f"{host_ca_bundle()}:/etc/host-ca.crt:ro"]
    cmd += ["--volume", f"{requirements}:/requirements.lock:ro", "--volume", f"{fresh}:/wheelhouse"]
    cmd += [python_image, "sh", "-c", script]
    say(f"wheelhouse: pip wheel inside {python_image}")
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode:
        shutil.rmtree(fresh, ignore_errors=True)
        raise BuildError(f"filling the wheelhouse failed:\n{result.stderr[-3000:]}")
    (fresh / ".stamp").write_text(digest + "\n")
    shutil.rmtree(WHEELHOUSE, ignore_errors=True)
    fresh.rename(WHEELHOUSE)
    count = len(list(WHEELHOUSE.glob("*.whl")))
    say(f"wheelhouse: {count} wheels in {time.monotonic() - started:.1f}s")


# ------------------------------------------------------------------------------
# Service images
# ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ImageSpec:
    service: str
    dockerfile: Path
    context: Path
    build_args: dict[str, str]


def image_spec(service: str, tag: str, base_images: dict[str, str]) -> ImageSpec:
    if service in DJANGO_SERVICES:
        return ImageSpec(
            service,
            REPO / "docker/Dockerfile",
            REPO,
            {"PYTHON_IMAGE": base_images["python"], "SERVICE": service, "SERVICE_VERSION": tag},
        )
    if service == "redis":
        return ImageSpec(
            service, REPO / "docker/redis/Dockerfile", REPO / "docker/redis", {"REDIS_IMAGE": base_images["redis"]}
        )
    if service == "gateway":
        return ImageSpec(
            service, REPO / "docker/gateway/Dockerfile", REPO / "docker/gateway", {"NGINX_IMAGE": base_images["nginx"]}
        )
    raise BuildError(f"unknown service {service}")


def docker_build(spec: ImageSpec, ref: str, *, verbose: bool, extra: Sequence[str] = ()) -> float:
    if not spec.dockerfile.is_file():
        raise BuildError(f"{spec.dockerfile.relative_to(REPO)} does not exist (yet)")
    cmd = ["docker", "build", "--file", str(spec.dockerfile), "--tag", ref, *extra]
    for name, value in spec.build_args.items():
        cmd += ["--build-arg", f"{name}={value}"]
    cmd.append(str(spec.context))
    log_path = LOG_DIR / f"{ref.replace('/', '_').replace(':', '_')}.log"
    started = time.monotonic()
    say(f"{spec.service}: docker build -> {ref}")
    # The legacy builder is what a 20.10 engine without buildx offers; keep its output plain.
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    _run_logged(cmd, log_path, env=env, what=f"build of {ref}", echo=verbose)
    seconds = time.monotonic() - started
    say(f"{spec.service}: {ref} built in {seconds:.1f}s, {_size(ref)}")
    return seconds


def _run_logged(
    cmd: Sequence[str], log_path: Path, *, env: dict[str, str], what: str, echo: bool = False, append: bool = False
) -> None:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a" if append else "w") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if echo:
                print("    " + line, end="", flush=True)
        proc.wait()
    if proc.returncode:
        tail = "".join(log_path.read_text().splitlines(keepends=True)[-25:])
        raise BuildError(f"{what} failed (exit {proc.returncode}); end of {log_path}:\n{tail}")


def _inspect(ref: str, template: str) -> str:
    return subprocess.run(
        ["docker", "image", "inspect", "--format", template, ref], capture_output=True, text=True, check=False
    ).stdout.strip()


def _size(ref: str) -> str:
    out = _inspect(ref, "{{.Size}}")
    return f"{int(out) / 1e6:.0f} MB" if out.isdigit() else "?"


def build_broken(registry: str, tag: str, good_ref: str, *, verbose: bool) -> str:
    """Replace the customers:<tag> image by one that never turns healthy (rollback exercise)."""
    good_id = _inspect(good_ref, "{{.Id}}")
    ref = f"{registry}/customers:{tag}"
    spec = ImageSpec("customers (broken)", REPO / "docker/broken.Dockerfile", REPO / "docker", {"GOOD_IMAGE": good_id})
    docker_build(spec, ref, verbose=verbose, extra=["--label", f"org.opencontainers.image.base.name={good_id}"])
    return ref


# ------------------------------------------------------------------------------
# Commands
# ------------------------------------------------------------------------------
def cmd_build(args: argparse.Namespace) -> int:
    services = list(dict.fromkeys(args.service or [*DJANGO_SERVICES, *OTHER_SERVICES]))
    if args.broken:
        services = ["customers"]
    needed = list(dict.fromkeys(SERVICE_BASE[s] for s in services))
    say(f"build {', '.join(services)} as {args.registry}/<service>:{args.tag} (offline: {args.offline})")
    timings: list[tuple[str, str, float]] = []

    phase = time.monotonic()
    chosen = choose_bases(needed, args.offline, args.pull_timeout)
    offline = [base for base in chosen.values() if base is not None]
    build_offline_bases(offline, force=args.force_bases, mirror=args.mirror)
    base_images = {key: (base.offline if base else BASES[key].public) for key, base in chosen.items()}
    for key, ref in base_images.items():
        say(f"base {key}: using {ref}")
    timings.append(("bases", ", ".join(base_images.values()), time.monotonic() - phase))

    if any(s in DJANGO_SERVICES for s in services):
        phase = time.monotonic()
        fill_wheelhouse(REPO / "requirements.lock", base_images["python"])
        timings.append(("wheelhouse", str(WHEELHOUSE.relative_to(REPO)), time.monotonic() - phase))

    failed = []
    for service in services:
        ref = f"{args.registry}/{service}:{args.tag}"
        try:
            extra = ["--no-cache"] if args.no_cache else []
            seconds = docker_build(image_spec(service, args.tag, base_images), ref, verbose=args.verbose, extra=extra)
            timings.append((service, ref, seconds))
        except BuildError as exc:
            say(f"{service}: FAILED: {exc}")
            failed.append(service)
            continue
        if service == "customers" and args.broken:
            phase = time.monotonic()
            broken = build_broken(args.registry, args.tag, ref, verbose=args.verbose)
            timings.append(("customers (broken)", broken, time.monotonic() - phase))
            say(f"{broken} now has a healthcheck that always fails; rebuild without --broken to restore it")

    if args.push and not failed:
        for service in services:
            ref = f"{args.registry}/{service}:{args.tag}"
            say(f"push {ref}")
            subprocess.run(["docker", "push", "--quiet", ref], check=True)

    print()
    print(f"{'step':<20} {'image':<48} {'seconds':>8} {'size':>8}")
    for step, ref, seconds in timings:
        size = _size(ref) if ":" in ref and step not in ("bases", "wheelhouse") else ""
        print(f"{step:<20} {ref:<48} {seconds:8.1f} {size:>8}")
    print(f"{'total':<20} {'':<48} {time.monotonic() - _started:8.1f}")
    if failed:
        print(f"FAILED: {', '.join(failed)} (logs in {LOG_DIR.relative_to(REPO)})", file=sys.stderr)
        return 1
    return 0


def cmd_bases(args: argparse.Namespace) -> int:
    keys = args.base or list(BASES)
    build_offline_bases([BASES[k] for k in keys], force=args.force, mirror=args.mirror)
    for key in keys:
        say(f"base {key}: {BASES[key].offline} {_size(BASES[key].offline)}")
    return 0


def cmd_sizes(args: argparse.Namespace) -> int:
    refs = [b.offline for b in BASES.values()]
    refs += [f"{args.registry}/{s}:{args.tag}" for s in (*DJANGO_SERVICES, *OTHER_SERVICES)]
    for ref in refs:
        print(f"{ref:<48} {_size(ref) if image_exists(ref) else 'not built':>10}")
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ops.images", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="build the service images (and offline bases when needed)")
    build.add_argument("--tag", default="v1", help="image tag, also baked in as SERVICE_VERSION (default v1)")
    build.add_argument(
        "--registry", default="demo", help="image name prefix: <registry>/<service>:<tag> (default demo)"
    )
    build.add_argument(
        "--offline",
        choices=("auto", "yes", "no"),
        default="auto",
        help="auto: public bases if local or pullable, else offline ones; yes: always offline; no: always public",
    )
    build.add_argument(
        "--service",
        action="append",
        choices=(*DJANGO_SERVICES, *OTHER_SERVICES),
        help="build only this one (repeatable); default: all",
    )
    build.add_argument(
        "--broken",
        action="store_true",
        help="make <registry>/customers:<tag> an image whose healthcheck always fails (docker/broken.Dockerfile)",
    )
    build.add_argument("--push", action="store_true", help="docker push the images afterwards")
    build.add_argument("--pull-timeout", type=float, default=20, help="seconds a probing docker pull may take (auto)")
    build.add_argument("--force-bases", action="store_true", help="rebuild offline bases even if they exist")
    build.add_argument("--mirror", help="Debian mirror URL for debootstrap (default: the host's apt sources)")
    build.add_argument("--no-cache", action="store_true", help="docker build --no-cache: rebuild every layer")
    build.add_argument("--verbose", "-v", action="store_true", help="stream docker build output")
    build.set_defaults(func=cmd_build)

    bases = commands.add_parser("bases", help="build only the offline base images")
    bases.add_argument("--base", action="append", choices=list(BASES), help="only this base (repeatable)")
    bases.add_argument("--force", action="store_true", help="rebuild even if the image exists")
    bases.add_argument("--mirror", help="Debian mirror URL for debootstrap (default: the host's apt sources)")
    bases.set_defaults(func=cmd_bases)

    sizes = commands.add_parser("sizes", help="list the project's images and their sizes")
    sizes.add_argument("--tag", default="v1")
    sizes.add_argument("--registry", default="demo")
    sizes.set_defaults(func=cmd_sizes)
    return parser.parse_args(argv)


@contextlib.contextmanager
def exclusive_run() -> Iterator[None]:
    """One build at a time per checkout: concurrent runs would swap the wheelhouse under each other."""
    key = hashlib.sha256(str(REPO).encode()).hexdigest()[:12]
    with open(Path(tempfile.gettempdir()) / f"ops-images-{key}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("another image build of this checkout is running; waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command != "sizes":  # sizes only reads; everything else builds, one run at a time
        command = args.func

        def locked(args: argparse.Namespace) -> int:
            with exclusive_run():
                return command(args)

        args.func = locked
    return cli.run(args, expected=(BuildError,), say=say)


if __name__ == "__main__":
    sys.exit(main())
