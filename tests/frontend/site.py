"""Drive the frontend over HTTP like a browser without JavaScript: follow links, fill in forms
(with the CSRF token and hidden fields the page rendered), read what the page says."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import requests

from ops.local import LocalSystem, Ports


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    options: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__()
        self.page_url = page_url
        self.forms: list[Form] = []
        self._select: str | None = None
        self._textarea: str | None = None
        self._option: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(urljoin(self.page_url, attr.get("action") or ""), attr.get("method", "get")))
        elif not self.forms:
            return
        elif tag == "input" and attr.get("name"):
            self.forms[-1].fields[attr["name"]] = attr.get("value", "")
        elif tag == "textarea":
            self._textarea = attr["name"]
            self.forms[-1].fields[self._textarea] = ""
        elif tag == "select":
            self._select = attr["name"]
            self.forms[-1].fields[self._select] = ""
            self.forms[-1].options[self._select] = []
        elif tag == "option" and self._select:
            self._option = attr.get("value", "")
            if "selected" in attr:
                self.forms[-1].fields[self._select] = self._option

    def handle_data(self, data: str) -> None:
        if self._textarea:
            # HTML drops one newline right after <textarea>, as browsers do.
            value = self.forms[-1].fields[self._textarea] + data
            self.forms[-1].fields[self._textarea] = value.removeprefix("\n")
        if self._select and self._option is not None:
            self.forms[-1].options[self._select].append((self._option, data.strip()))
            self._option = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def forms_of(response: requests.Response) -> list[Form]:
    parser = _FormParser(response.url)
    parser.feed(response.text)
    return parser.forms


def text_of(html: str) -> str:
    """The page's visible text, whitespace collapsed: what a user reads."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.DOTALL)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def field_errors(html: str) -> dict[str, list[str]]:
    """Errors shown under each field, keyed by the field's id (id_<name>)."""
    errors: dict[str, list[str]] = {}
    for field_id, message in re.findall(r'<p class="field-error" id="(id_\w+)-error">(.*?)</p>', html):
        errors.setdefault(field_id.removeprefix("id_"), []).append(unescape(message))
    return errors


def title_of(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, flags=re.DOTALL)
    return unescape(match.group(1)).strip() if match else ""


def banners(html: str) -> list[str]:
    return [text_of(b) for b in re.findall(r'<div class="banner banner-outage"[^>]*>(.*?)</div>', html, re.DOTALL)]


def flashes(html: str) -> list[str]:
    return [text_of(m) for m in re.findall(r'<li class="flash-\w+"[^>]*>(.*?)</li>', html, re.DOTALL)]


class Browser:
    """A cookie-keeping HTTP client pointed at one base URL."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 20)
        return self.session.get(urljoin(self.base_url + "/", path.lstrip("/")), **kwargs)

    def submit(self, form: Form, allow_redirects: bool = True, **values: str) -> requests.Response:
        data = {**form.fields, **values}
        return self.session.request(form.method.upper(), form.action, data=data, allow_redirects=allow_redirects,
                                    timeout=20)  # fmt: skip

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        """A direct API call through the gateway, for setting up data quickly."""
        timeout = kwargs.pop("timeout", 20)
        return requests.request(method, self.base_url + path, timeout=timeout, **kwargs)


@contextmanager
def running_system(run_dir: Path) -> Iterator[LocalSystem]:
    """The whole system, frontend included, on free ports, with Redis in memory only.

    The gateway's per-client rate limit is off: every suite sends from 127.0.0.1, far faster than
    one client may. tests/integration/test_gateway_rate_limit.py runs a system with it on.
    """
    with LocalSystem(
        ports=Ports.free(),
        run_dir=run_dir,
        persistent_redis=False,
        with_frontend=True,
        workers=2,
        rate_limit=False,
        say=lambda _: None,
    ) as system:
        yield system
