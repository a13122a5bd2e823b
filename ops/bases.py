"""Offline base images: python, nginx and redis (and any other Base) built from Debian packages.

Where Docker Hub cannot be reached, ops.images uses these instead of the public images the
Dockerfiles name: debootstrap a Debian bookworm minbase with the packages a base needs, bring
it up to the host's updates and security suites, finish it like the public image (users,
paths, the host's CA bundle), slim it, and `docker import` it. The Debian mirror and any HTTP
proxy are read from the host's own apt configuration at run time.

    python -m ops.images bases [--force]     # the command line is ops.images'
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ops import engine, setup
from ops.cli import say

REPO = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO / "build"
LOG_DIR = BUILD_DIR / "logs" / "images"
DEB_CACHE = BUILD_DIR / "debs"
DEBIAN_SUITE = "bookworm"


class BuildError(RuntimeError):
    """An image (a base, the wheelhouse, a service image) cannot be built; the message says why."""


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
    # The Debian release debootstrap installs.
    suite: str = DEBIAN_SUITE


def _dockerfile_default(dockerfile: str, arg: str, fallback: str) -> str:
    """The public base a Dockerfile names by default, so that name lives in one place."""
    path = REPO / dockerfile
    text = path.read_text() if path.is_file() else ""
    match = re.search(rf"^ARG\s+{arg}=(\S+)", text, re.MULTILINE)
    return match.group(1) if match else fallback


# `docker import` images carry no environment at all; the public images set this PATH.
_DEFAULT_PATH = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def trust_host_ca(rootfs: Path) -> None:
    """Give a base the host's CA bundle: it has to include the CA of any intercepting HTTPS proxy,
    or apt and pip over HTTPS fail inside builds. A Base's `finish`, or part of one."""
    shutil.copyfile(host_ca_bundle(), rootfs / "etc/ssl/certs/ca-certificates.crt")


def _finish_python(rootfs: Path) -> None:
    trust_host_ca(rootfs)
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


# Where the usual systems keep the bundle when OpenSSL's own default file is absent (Debian's
# python3 looks for /usr/lib/ssl/cert.pem, which only the openssl package provides).
_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem")


def host_ca_bundle() -> Path:
    """The CA bundle the host trusts (it includes any intercepting proxy's CA)."""
    for candidate in (os.environ.get("SSL_CERT_FILE"), ssl.get_default_verify_paths().openssl_cafile, *_CA_BUNDLES):
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
    """The Debian mirror and proxy the host's apt uses, so debootstrap goes the same way.

    A `suite` the host does not list (an older release, for a test image) comes from the
    mirror and update archives the host uses for DEBIAN_SUITE.
    """
    proxies = {}
    for scheme in ("http", "https"):
        url = _apt_config_value(f"Acquire::{scheme}::Proxy") or os.environ.get(f"{scheme}_proxy")
        if url and url not in ("DIRECT", "false"):
            proxies[scheme] = url
    entries = list(_host_apt_entries(etc_apt))
    releases = {suite, DEBIAN_SUITE}
    updates = tuple(
        dict.fromkeys(
            (uri.rstrip("/"), f"{suite}-{pocket}")
            for uri, suites in entries
            for release, _, pocket in (name.rpartition("-") for name in sorted(suites))
            if release in releases and pocket in ("updates", "security")
        )
    )
    if mirror_override:
        return AptSource(mirror=mirror_override, updates=updates, proxies=proxies)
    for uri, suites in entries:
        if suites & releases and "/debian" in uri and "security" not in uri:
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
    return engine.local().image(ref) is not None


def image_size(ref: str) -> str:
    """Its size for people ("123 MB"), "?" when there is no such image."""
    image = engine.local().image(ref)
    return f"{image.size / 1e6:.0f} MB" if image else "?"


# ------------------------------------------------------------------------------
# Official images or offline bases
# ------------------------------------------------------------------------------
# Seconds the engine may take to say whether the registry has an image: a question of a few
# hundred bytes, so running out means the registry does not answer (the line says so).
PROBE_TIMEOUT = 60
# Seconds a pull may go without a word of progress: a stalled download fails, a slow one never.
PULL_STALL_TIMEOUT = 300
OFFLINE_BASES = "offline Debian-built bases"


@dataclasses.dataclass(frozen=True)
class Probe(engine.RegistryAnswer):
    """What the engine knows of one public image: local (the registry was not asked), or what
    the registry said of it."""

    local: bool = False


@dataclasses.dataclass(frozen=True)
class ImagePath:
    """Which images a build takes, and the one line that says so and why."""

    official: bool
    line: str


def probe(ref: str) -> Probe:
    """Ask the engine (through its registry mirrors and credentials) whether `ref` can be pulled."""
    if image_exists(ref):
        return Probe(ref, local=True)
    return Probe(**dataclasses.asdict(engine.local().registry_digest(ref, timeout=PROBE_TIMEOUT)))


def probe_all(refs: Sequence[str]) -> list[Probe]:
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(refs) or 1) as pool:
        return list(pool.map(probe, refs))


def choose_path(
    probes: Sequence[Probe],
    *,
    subject: str = "bases",
    offline_label: str = OFFLINE_BASES,
    otherwise: str = "--offline yes builds the bases from Debian packages instead",
) -> ImagePath:
    """Official images when each is local or the registry has it; the offline ones when the
    registry does not answer. A registry that answers without an image is an error, not a reason
    to switch: the name is wrong, or access is refused (`otherwise` says what the user can do)."""
    if unreachable := [p for p in probes if p.unreachable]:
        return ImagePath(False, f"{subject}: {offline_label} (registry does not answer: {unreachable[0].unreachable})")
    if refused := [p for p in probes if p.refused]:
        names = ", ".join(f"{p.ref} ({p.refused})" for p in refused)
        raise BuildError(
            f"the registry answers but gives no {names}: check the name and any docker login"
            + f"; {otherwise}" * bool(otherwise)
        )
    pulled = [p.ref for p in probes if not p.local]
    local = [p.ref for p in probes if p.local]
    reasons = [f"registry answers: {', '.join(pulled)}"] * bool(pulled) + [f"local: {', '.join(local)}"] * bool(local)
    return ImagePath(True, f"{subject}: official images ({'; '.join(reasons)})")


def pull_with_progress(ref: str) -> None:
    """docker pull, one line per layer as it starts, every few seconds while it downloads, and when done."""
    started = time.monotonic()
    shown: dict[str, tuple[str, float]] = {}

    def progress(message: dict) -> None:
        layer, status = message.get("id", ""), message.get("status", "")
        if not layer or layer == ref.rsplit(":", 1)[-1]:
            return
        detail = message.get("progressDetail") or {}
        last_status, last_time = shown.get(layer, ("", 0.0))
        now = time.monotonic()
        if status == last_status and now - last_time < 5:
            return
        shown[layer] = (status, now)
        if detail.get("total", 0) >= 1e6:
            status += f" {detail.get('current', 0) / 1e6:.1f}/{detail['total'] / 1e6:.1f} MB"
        say(f"pull {ref}: {layer} {status}")

    engine.local().pull(ref, timeout=PULL_STALL_TIMEOUT, progress=progress)
    say(f"pull {ref}: done in {time.monotonic() - started:.0f}s, {image_size(ref)}")


def prepare_bases(
    bases: Sequence[Base], *, offline: str = "auto", force: bool = False, mirror: str | None = None
) -> dict[str, str]:
    """Make the bases ready, official or offline, after one line saying which and why; key -> image.

    `offline`: "auto" takes the official images when each is local or the registry answers,
    else builds every one from Debian packages; "yes" always builds, "no" always pulls.
    """
    if offline == "yes":
        path = ImagePath(False, f"bases: {OFFLINE_BASES} (--offline yes)")
    elif offline == "no":
        path = ImagePath(True, "bases: official images (--offline no)")
    else:
        path = choose_path(probe_all([base.public for base in bases]))
    say(path.line)
    if not path.official:
        build_offline_bases(bases, force=force, mirror=mirror)
        return {base.key: base.offline for base in bases}
    for base in bases:
        if not image_exists(base.public):
            try:
                pull_with_progress(base.public)
            except engine.EngineError as exc:
                raise BuildError(f"{exc} (--offline yes builds the bases from Debian packages instead)") from exc
    return {base.key: base.public for base in bases}


def build_offline_bases(bases: Sequence[Base], *, force: bool, mirror: str | None) -> None:
    """Build the missing offline bases, in parallel (debootstrap is mostly single-threaded)."""
    todo = [base for base in bases if force or not image_exists(base.offline)]
    for base in bases:
        if base not in todo:
            say(f"base {base.key}: {base.offline} exists, kept (--force-bases rebuilds)")
    if not todo:
        return
    ensure_debootstrap()
    sources = {base.suite: host_apt_source(base.suite, mirror_override=mirror) for base in todo}
    say(f"offline bases: debootstrap for {', '.join(f'{b.key} ({b.suite})' for b in todo)}")
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(todo)) as pool:
        futures = {pool.submit(_build_offline_base, base, sources[base.suite]): base for base in todo}
        errors = []
        for future in concurrent.futures.as_completed(futures):
            try:
                future.result()
            except BuildError as exc:
                errors.append(str(exc))
    if errors:
        raise BuildError("; ".join(errors))


def ensure_debootstrap() -> None:
    """Root and debootstrap, which only the offline path needs: installed here when root has apt-get."""
    if os.geteuid() != 0:
        raise BuildError(
            "building the offline bases needs root and debootstrap: sudo apt-get install debootstrap, "
            "then sudo .venv/bin/python -m ops.images bases, then run this again"
        )
    missing = setup.missing_packages({"debootstrap": "debootstrap", "tar": "tar"})
    if not missing:
        return
    if not shutil.which("apt-get"):
        raise BuildError(f"building the offline bases needs {' and '.join(missing)}: install it, then run this again")
    say(f"offline bases: installing {' '.join(missing)} (apt-get), which only the offline path needs")
    try:
        setup.install_packages(missing)
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"apt-get install {' '.join(missing)} failed (exit {exc.returncode})") from exc


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
            base.suite,
            str(rootfs),
            source.mirror,
        ]
        run_logged(cmd, log_path, env=env, what=f"debootstrap for {base.key}")
        _unmount_below(rootfs)
        _apply_updates(rootfs, base.suite, source, log_path, env)
        base.finish(rootfs)
        _slim_rootfs(rootfs)
        say(f"base {base.key}: docker import {base.offline}")
        _docker_import(rootfs, base)
    finally:
        _unmount_below(rootfs)
        # --one-file-system: never follow a mount that might still point into the host.
        subprocess.run(["rm", "-rf", "--one-file-system", str(workdir)], check=False)
    say(f"base {base.key}: {base.offline} ready in {time.monotonic() - started:.0f}s, {image_size(base.offline)}")


def _apply_updates(rootfs: Path, suite: str, source: AptSource, log_path: Path, env: dict[str, str]) -> None:
    """Bring the rootfs up to the updates and security suites the host itself uses.

    debootstrap installs from the release suite only, which lacks fixes published since the
    last point release.
    """
    lines = [f"deb {source.mirror} {suite} main", *(f"deb {uri} {name} main" for uri, name in source.updates)]
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
        run_logged(
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
        f'LABEL org.opencontainers.image.description="Debian {base.suite} minbase with {" ".join(base.packages)}"',
    ]
    tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    assert tar.stdout is not None
    try:
        engine.local().import_image(tar.stdout, base.offline, changes=changes)
    except engine.EngineError as exc:
        raise BuildError(f"docker import of {base.offline} failed: {exc}") from exc
    finally:
        tar.stdout.close()
        tar.wait()
    if tar.returncode:
        raise BuildError(f"docker import of {base.offline} failed: tar exited with {tar.returncode}")


def run_logged(cmd: Sequence[str], log_path: Path, *, env: dict[str, str], what: str, append: bool = False) -> None:
    """Run a command with its output in `log_path`; the log's end goes into the error."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a" if append else "w") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
        proc.wait()
    if proc.returncode:
        raise BuildError(f"{what} failed (exit {proc.returncode}); end of {log_path}:\n{log_tail(log_path)}")


def log_tail(log_path: Path, lines: int = 25) -> str:
    return "".join(log_path.read_text().splitlines(keepends=True)[-lines:])
