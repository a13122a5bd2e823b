from collections.abc import Iterator

import pytest

from ops.dev import LocalSystem
from tests.frontend.site import Browser, running_system


@pytest.fixture(scope="session")
def frontend_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    with running_system(tmp_path_factory.mktemp("frontend-system")) as system:
        yield system


@pytest.fixture
def browser(frontend_system: LocalSystem) -> Browser:
    """A fresh visitor (no cookies) reaching the site through the gateway."""
    return Browser(frontend_system.gateway_url)
