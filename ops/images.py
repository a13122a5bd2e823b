"""Build the project's container images.

    python -m ops.images build [--tag v1] [--registry demo] [--offline auto|yes|no] [--service ...]
    python -m ops.images build --broken --tag v3     # customers image whose healthcheck always fails
    python -m ops.images bases [--force]              # only the offline base images
    python -m ops.images sizes [--registry demo]      # what is built, and how big

Every Django deployable comes from docker/Dockerfile (SERVICE build arg); Redis from
docker/redis/Dockerfile; the gateway from docker/gateway/Dockerfile (NGINX_IMAGE build arg).

Base images: the official python, nginx and redis images when they are local or the engine's
registry answers (pulled with progress); only when it does not, equivalents built from Debian
bookworm packages with debootstrap and `docker import` (ops.bases, "offline bases"). One line
says which, and why.

Python dependencies are fetched once into build/wheelhouse (ops.wheelhouse: `pip wheel` run
inside the python base on the host network); image builds then install from there, offline.

Also a library: ``build(services, tag=..., registry=...)`` for ops.stack and ops.cluster,
``docker_build(spec, ref)`` for the images of ops.cluster and ops.monitoring.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from ops import cli, engine
from ops.bases import BASES, LOG_DIR, BuildError, build_offline_bases, image_exists, image_size, log_tail, prepare_bases
from ops.cli import say
from ops.services import DJANGO_SERVICES, SERVICES
from ops.wheelhouse import WHEELHOUSE, fill_wheelhouse

REPO = Path(__file__).resolve().parent.parent
ALL_SERVICES = tuple(s.name for s in SERVICES)
# The base each image is built on (a key of ops.bases.BASES).
SERVICE_BASE = {
    **dict.fromkeys(DJANGO_SERVICES, "python"),
    "redis": "redis",
    "gateway": "nginx",
    "socket-proxy": "nginx",
}


# ------------------------------------------------------------------------------
# Service images
# ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ImageSpec:
    service: str
    dockerfile: Path
    context: Path
    build_args: dict[str, str]


def image_spec(service: str, tag: str, base_images: Mapping[str, str]) -> ImageSpec:
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
    if service in ("gateway", "socket-proxy"):
        folder = REPO / "docker" / service
        return ImageSpec(service, folder / "Dockerfile", folder, {"NGINX_IMAGE": base_images["nginx"]})
    raise BuildError(f"unknown service {service}")


def docker_build(
    spec: ImageSpec,
    ref: str,
    *,
    verbose: bool = False,
    labels: Mapping[str, str] | None = None,
    no_cache: bool = False,
) -> float:
    """Build `ref` from `spec`, its log in build/logs/images (and on screen with `verbose`); the seconds it took."""
    if not spec.dockerfile.is_file():
        raise BuildError(f"{spec.dockerfile.relative_to(REPO)} does not exist (yet)")
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{ref.replace('/', '_').replace(':', '_')}.log"
    started = time.monotonic()
    say(f"{spec.service}: docker build -> {ref}")
    with open(log_path, "w") as log:

        def output(text: str) -> None:
            log.write(text)
            if verbose:
                print("    " + text, end="", flush=True)

        try:
            engine.local().build(
                context=spec.context,
                dockerfile=spec.dockerfile,
                tag=ref,
                build_args=spec.build_args,
                labels=labels,
                no_cache=no_cache,
                output=output,
            )
        except engine.EngineError as exc:
            output(f"{exc}\n")
            log.close()
            raise BuildError(f"build of {ref} failed; end of {log_path}:\n{log_tail(log_path)}") from exc
    seconds = time.monotonic() - started
    say(f"{spec.service}: {ref} built in {seconds:.1f}s, {image_size(ref)}")
    return seconds


def build_broken(registry: str, tag: str, good_ref: str, *, verbose: bool) -> str:
    """Replace the customers:<tag> image by one that never turns healthy (rollback exercise)."""
    good = engine.local().image(good_ref)
    if good is None:
        raise BuildError(f"{good_ref} does not exist")
    ref = f"{registry}/customers:{tag}"
    spec = ImageSpec("customers (broken)", REPO / "docker/broken.Dockerfile", REPO / "docker", {"GOOD_IMAGE": good.id})
    docker_build(spec, ref, verbose=verbose, labels={"org.opencontainers.image.base.name": good.id})
    return ref


def bases_for(
    services: Sequence[str], *, offline: str = "auto", force: bool = False, mirror: str | None = None
) -> dict[str, str]:
    """The base images `services` are built on, made ready (pulled or built), after the one line
    saying whether they are the official images or the offline ones, and why: key -> image."""
    needed = [BASES[key] for key in dict.fromkeys(SERVICE_BASE[s] for s in services)]
    with exclusive_run():
        return prepare_bases(needed, offline=offline, force=force, mirror=mirror)


def build(
    services: Sequence[str] = ALL_SERVICES,
    *,
    tag: str = "v1",
    registry: str = "demo",
    offline: str = "auto",
    base_images: Mapping[str, str] | None = None,
    force_bases: bool = False,
    mirror: str | None = None,
    no_cache: bool = False,
    verbose: bool = False,
    broken: bool = False,
    push: bool = False,
) -> None:
    """Build <registry>/<service>:<tag> for each service, and the bases and wheelhouse they need.

    `offline`: "auto" uses the official bases when local or pullable, else offline ones; "yes"
    always the offline ones, "no" always the official ones. `base_images` (from bases_for) skips
    that choice. `broken` builds customers, then replaces it by an image whose healthcheck always
    fails. Prints a table of what was built; raises BuildError naming the services that failed
    (the others are built all the same).
    """
    services = ["customers"] if broken else list(dict.fromkeys(services))
    phase = time.monotonic()
    if base_images is None:
        base_images = bases_for(services, offline=offline, force=force_bases, mirror=mirror)
    with exclusive_run():
        say(f"build {', '.join(services)} as {registry}/<service>:{tag}")
        timings: list[tuple[str, str, float]] = []
        timings.append(("bases", ", ".join(dict.fromkeys(base_images.values())), time.monotonic() - phase))

        if any(s in DJANGO_SERVICES for s in services):
            phase = time.monotonic()
            fill_wheelhouse(REPO / "requirements.lock", base_images["python"])
            timings.append(("wheelhouse", str(WHEELHOUSE.relative_to(REPO)), time.monotonic() - phase))

        failed = []
        for service in services:
            ref = f"{registry}/{service}:{tag}"
            try:
                seconds = docker_build(image_spec(service, tag, base_images), ref, verbose=verbose, no_cache=no_cache)
                timings.append((service, ref, seconds))
            except BuildError as exc:
                say(f"{service}: FAILED: {exc}")
                failed.append(service)
                continue
            if service == "customers" and broken:
                phase = time.monotonic()
                broken_ref = build_broken(registry, tag, ref, verbose=verbose)
                timings.append(("customers (broken)", broken_ref, time.monotonic() - phase))
                say(f"{broken_ref} now has a healthcheck that always fails; rebuild without --broken to restore it")

        if push and not failed:
            for service in services:
                ref = f"{registry}/{service}:{tag}"
                say(f"push {ref}")
                engine.local().push(ref)

    print()
    print(f"{'step':<20} {'image':<48} {'seconds':>8} {'size':>8}")
    for step, ref, seconds in timings:
        size = image_size(ref) if ":" in ref and step not in ("bases", "wheelhouse") else ""
        print(f"{step:<20} {ref:<48} {seconds:8.1f} {size:>8}")
    print(f"{'total':<20} {'':<48} {cli.elapsed():8.1f}")
    if failed:
        raise BuildError(f"image build failed: {', '.join(failed)} (logs in {LOG_DIR.relative_to(REPO)})")


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


# ------------------------------------------------------------------------------
# Commands
# ------------------------------------------------------------------------------
def cmd_build(args: argparse.Namespace) -> int:
    build(
        args.service or ALL_SERVICES,
        tag=args.tag,
        registry=args.registry,
        offline=args.offline,
        force_bases=args.force_bases,
        mirror=args.mirror,
        no_cache=args.no_cache,
        verbose=args.verbose,
        broken=args.broken,
        push=args.push,
    )
    return 0


def cmd_bases(args: argparse.Namespace) -> int:
    keys = args.base or list(BASES)
    with exclusive_run():
        build_offline_bases([BASES[k] for k in keys], force=args.force, mirror=args.mirror)
    for key in keys:
        say(f"base {key}: {BASES[key].offline} {image_size(BASES[key].offline)}")
    return 0


def cmd_sizes(args: argparse.Namespace) -> int:
    refs = [b.offline for b in BASES.values()]
    refs += [f"{args.registry}/{s}:{args.tag}" for s in ALL_SERVICES]
    for ref in refs:
        print(f"{ref:<48} {image_size(ref) if image_exists(ref) else 'not built':>10}")
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ops.images", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    build_cmd = commands.add_parser("build", help="build the service images (and offline bases when needed)")
    build_cmd.add_argument("--tag", default="v1", help="image tag, also baked in as SERVICE_VERSION (default v1)")
    build_cmd.add_argument(
        "--registry", default="demo", help="image name prefix: <registry>/<service>:<tag> (default demo)"
    )
    build_cmd.add_argument(
        "--offline",
        choices=("auto", "yes", "no"),
        default="auto",
        help="auto: the official bases if local or the registry answers, else offline ones built from Debian "
        "packages; yes: always offline; no: always official",
    )
    build_cmd.add_argument(
        "--service", action="append", choices=ALL_SERVICES, help="build only this one (repeatable); default: all"
    )
    build_cmd.add_argument(
        "--broken",
        action="store_true",
        help="make <registry>/customers:<tag> an image whose healthcheck always fails (docker/broken.Dockerfile)",
    )
    build_cmd.add_argument("--push", action="store_true", help="docker push the images afterwards")
    build_cmd.add_argument("--force-bases", action="store_true", help="rebuild offline bases even if they exist")
    build_cmd.add_argument("--mirror", help="Debian mirror URL for debootstrap (default: the host's apt sources)")
    build_cmd.add_argument("--no-cache", action="store_true", help="docker build --no-cache: rebuild every layer")
    build_cmd.add_argument("--verbose", "-v", action="store_true", help="stream docker build output")
    build_cmd.set_defaults(func=cmd_build)

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


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(parse_args(argv), expected=(BuildError, engine.EngineError))


if __name__ == "__main__":
    sys.exit(main())
