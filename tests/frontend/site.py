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

from common.http import SAFE_METHODS
from ops.credentials import Credentials
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


def forms_of(response: requests.Response, *, sign_out: bool = False) -> list[Form]:
    """The page's forms; the header's sign-out form (on every page of a signed-in operator) only
    when asked for."""
    parser = _FormParser(response.url)
    parser.feed(response.text)
    return [form for form in parser.forms if sign_out or not form.action.endswith("/sign-out/")]


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
    """A cookie-keeping HTTP client pointed at one base URL. `credentials` are for api() (the
    bearer token on writes) and sign_in(); the pages get nothing the browser was not given."""

    def __init__(self, base_url: str, credentials: Credentials | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.credentials = credentials

    def sign_in(self) -> requests.Response:
        """Sign in as the operator through the sign-in form, as a person would."""
        assert self.credentials is not None, "a browser without credentials cannot sign in"
        page = self.get("/sign-in/")
        form = next(form for form in forms_of(page) if "password" in form.fields)
        response = self.submit(
            form, username=self.credentials.operator_username, password=self.credentials.operator_password
        )
        assert "Signed in as" in response.text, text_of(response.text)[:300]
        return response

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
        if method not in SAFE_METHODS and self.credentials is not None:
            kwargs["headers"] = {**self.credentials.api_headers(), **kwargs.get("headers", {})}
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
