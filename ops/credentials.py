"""The system's credentials: the API token, the operator's password and the Redis password.

Made once per checkout from the system's random source and kept in ``.run/credentials.env``,
which only its owner can read. ``ops.stack`` and ``ops.cluster`` turn them into Docker secrets,
local mode hands them to its processes, and the seed job, the load generator, the benchmarks
and the tests read them from here.

    python -m ops.credentials            # print them (and the file they live in)
    python -m ops.credentials --header   # print only "Authorization: Bearer <token>" (for curl -H)

Host-side tooling: runs on any python3 from 3.9.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import secrets
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

REPO = Path(__file__).resolve().parent.parent
DEFAULT_FILE = REPO / ".run" / "credentials.env"
OPERATOR_USERNAME = "operator"
# The credentials the stack gets as Docker secrets: their names in swarm-stack.yml, which are also
# the fields of Credentials that hold them.
SECRET_NAMES = ("api_token", "operator_password", "redis_password")

# Line in the file -> field of Credentials.
FIELDS = {
    "API_TOKEN": "api_token",
    "OPERATOR_USERNAME": "operator_username",
    "OPERATOR_PASSWORD": "operator_password",
    "REDIS_PASSWORD": "redis_password",
}


class CredentialsMissing(RuntimeError):
    """No credentials file yet; the message says which command makes one."""


@dataclasses.dataclass(frozen=True)
class Credentials:
    api_token: str
    operator_username: str
    operator_password: str
    redis_password: str

    @classmethod
    def generate(cls) -> Credentials:
        return cls(
            api_token=secrets.token_urlsafe(32),
            operator_username=OPERATOR_USERNAME,
            operator_password=secrets.token_urlsafe(18),
            redis_password=secrets.token_urlsafe(32),
        )

    def api_headers(self) -> dict[str, str]:
        """What a client sends with every write."""
        return {"Authorization": f"Bearer {self.api_token}"}

    def docker_secrets(self) -> dict[str, str]:
        """Secret name in the stack file (without the stack's prefix) -> its value."""
        return {name: getattr(self, name) for name in SECRET_NAMES}


def secret_name(stack: str, name: str, value: str) -> str:
    """A Docker secret's name: secrets are immutable, so a new value gets a new name (a short
    digest of the value) and the services a rolling update, as the gateway's config does."""
    return f"{stack}_{name}_{hashlib.sha256(value.encode()).hexdigest()[:12]}"


def secret_variable(name: str) -> str:
    """The swarm-stack.yml variable that names the secret, e.g. API_TOKEN_SECRET."""
    return f"{name.upper()}_SECRET"


def read(path: Path = DEFAULT_FILE) -> Credentials | None:
    """The credentials in `path`, or None when there is no file; a key the file lacks (written
    by an older version) is made now and the file completed."""
    if not path.exists():
        return None
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() in FIELDS:
            values[FIELDS[key.strip()]] = value.strip()
    fresh = Credentials.generate()
    complete = Credentials(**{field: values.get(field) or getattr(fresh, field) for field in FIELDS.values()})
    if set(values) != set(FIELDS.values()) or not _owner_only(path):
        write(complete, path)
    return complete


def write(credentials: Credentials, path: Path = DEFAULT_FILE) -> None:
    lines = ["# Made by ops.credentials; delete this file to get new credentials on the next `make up`."]
    lines += [f"{key}={getattr(credentials, field)}" for key, field in FIELDS.items()]
    write_private(path, "\n".join(lines) + "\n")


def write_private(path: Path, text: str) -> None:
    """Write `text` to a file only its owner can read and write (0600 whatever the umask, also when
    the file existed with wider rights); a missing folder is made 0700."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def _owner_only(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def load_or_create(path: Path = DEFAULT_FILE) -> tuple[Credentials, bool]:
    """(credentials, True when they were made just now)."""
    existing = read(path)
    if existing is not None:
        return existing, False
    credentials = Credentials.generate()
    write(credentials, path)
    return credentials, True


def load(path: Path = DEFAULT_FILE) -> Credentials:
    existing = read(path)
    if existing is None:
        raise CredentialsMissing(f"no credentials in {path} yet: `make up` (or `make dev`) makes them")
    return existing


def describe(credentials: Credentials, path: Path, *, shown: bool) -> str:
    """Lines for the end of `up`/`dev`: the values when `shown`, else only where they are."""
    try:
        where = path.relative_to(Path.cwd())
    except ValueError:
        where = path
    if not shown:
        return f"  credentials    in {where} (python -m ops.credentials prints them)"
    return "\n".join(
        [
            f"  API token      {credentials.api_token}",
            f"                 writes send 'Authorization: Bearer <token>'; kept in {where} (mode 0600)",
            f"  web sign-in    {credentials.operator_username} / {credentials.operator_password}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.credentials", description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="default: .run/credentials.env")
    parser.add_argument("--header", action="store_true", help="print only the Authorization header")
    args = parser.parse_args(argv)
    try:
        credentials = load(args.file)
    except CredentialsMissing as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.header:
        print(f"Authorization: Bearer {credentials.api_token}")
        return 0
    print(describe(credentials, args.file, shown=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
