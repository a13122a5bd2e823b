"""Seed demo products and customers through the API; running it again adds nothing twice."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.http import HttpClient, NoAnswer
from common.waiting import WaitTimeout, wait_until

DEMO_PRODUCTS = [
    ("Espresso beans, 1 kg", "24.90"),
    ("Ceramic mug", "9.50"),
    ("Pour-over kettle", "42.00"),
    ("Paper filters, 100 pcs", "4.75"),
]
DEMO_CUSTOMERS = [
    ("Ada Lovelace", "12 Analytical Row, London"),
    ("Grace Hopper", "3 Compiler Lane, Arlington"),
    ("Alan Turing", "7 Enigma Court, Manchester"),
]
# Demo data is a handful of rows; more than this many pages means we are not looking at a demo.
MAX_PAGES = 50


class Command(BaseCommand):
    help = "Create the demo products and customers that are missing (matched by name), through the API."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--api-url", required=True, help="Base URL of the gateway, e.g. http://gateway")
        parser.add_argument("--wait", type=float, default=0, help="Seconds to wait for the APIs to answer first")

    def handle(self, *args: Any, api_url: str, wait: float, **options: Any) -> None:
        gateway = HttpClient(
            target="gateway",
            base_url=api_url,
            connect_timeout=3,
            read_timeout=10,
            retries=1,
            write_token=settings.API_WRITE_TOKEN,
        )
        wanted = {
            "/api/products/": [{"name": n, "unit_price": p} for n, p in DEMO_PRODUCTS],
            "/api/customers/": [{"name": n, "address": a} for n, a in DEMO_CUSTOMERS],
        }
        try:
            wait_until(
                f"the APIs at {api_url}",
                lambda: all(_answers(gateway, path) for path in wanted),
                timeout=wait,
                interval=2,
                progress=lambda: self.stdout.write("waiting for the APIs..."),
                progress_every=2,
            )
        except WaitTimeout:
            raise CommandError(f"The APIs at {api_url} do not answer.") from None
        try:
            for path, items in wanted.items():
                self._ensure(gateway, path, items)
        except NoAnswer as error:
            raise CommandError(f"The API at {api_url} stopped answering: {error}.") from None

    def _ensure(self, gateway: HttpClient, path: str, wanted: list[dict[str, str]]) -> None:
        existing = _names(gateway, path)
        for item in wanted:
            if item["name"] in existing:
                self.stdout.write(f"exists   {item['name']}")
                continue
            response = gateway.request("POST", path, json=item)
            if response.status_code != 201:
                raise CommandError(f"POST {path} answered {response.status_code}: {response.text[:300]}")
            self.stdout.write(f"created  {item['name']}")


def _answers(gateway: HttpClient, path: str) -> bool:
    try:
        return gateway.request("GET", path, params={"limit": 1}).ok
    except NoAnswer:
        return False


def _names(gateway: HttpClient, path: str) -> set[str]:
    names: set[str] = set()
    params: dict[str, str | int] = {"limit": 100}
    for _ in range(MAX_PAGES):
        response = gateway.request("GET", path, params=params)
        if not response.ok:
            raise CommandError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
        body = response.json()
        names.update(row["name"] for row in body["results"])
        if not body["next_cursor"]:
            break
        params = {"limit": 100, "cursor": body["next_cursor"]}
    return names
