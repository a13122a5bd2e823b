"""Seed demo products and customers through the API; running it again adds nothing twice."""

import time
from typing import Any

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

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
        api = requests.Session()
        if settings.API_WRITE_TOKEN:
            api.headers["Authorization"] = f"Bearer {settings.API_WRITE_TOKEN}"
        api_url = api_url.rstrip("/")
        self._wait_for(api, api_url, wait)
        self._ensure(api, f"{api_url}/api/products/", [{"name": n, "unit_price": p} for n, p in DEMO_PRODUCTS])
        self._ensure(api, f"{api_url}/api/customers/", [{"name": n, "address": a} for n, a in DEMO_CUSTOMERS])

    def _wait_for(self, api: requests.Session, api_url: str, wait: float) -> None:
        deadline = time.monotonic() + wait
        while True:
            try:
                if all(api.get(f"{api_url}/api/{s}/?limit=1", timeout=3).ok for s in ("products", "customers")):
                    return
            except requests.RequestException:
                pass
            if time.monotonic() >= deadline:
                raise CommandError(f"The APIs at {api_url} do not answer.")
            self.stdout.write("waiting for the APIs...")
            time.sleep(2)

    def _ensure(self, api: requests.Session, list_url: str, wanted: list[dict[str, str]]) -> None:
        existing = self._names(api, list_url)
        for item in wanted:
            if item["name"] in existing:
                self.stdout.write(f"exists   {item['name']}")
                continue
            response = api.post(list_url, json=item, timeout=10)
            if response.status_code != 201:
                raise CommandError(f"POST {list_url} answered {response.status_code}: {response.text[:300]}")
            self.stdout.write(f"created  {item['name']}")

    @staticmethod
    def _names(api: requests.Session, list_url: str) -> set[str]:
        names: set[str] = set()
        url: str | None = f"{list_url}?limit=100"
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = api.get(url, timeout=10)
            response.raise_for_status()
            body = response.json()
            names.update(row["name"] for row in body["results"])
            url = f"{list_url}?limit=100&cursor={body['next_cursor']}" if body["next_cursor"] else None
        return names
