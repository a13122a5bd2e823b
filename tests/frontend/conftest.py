import pytest

from ops.local import LocalSystem
from tests.frontend.site import Browser


@pytest.fixture(scope="session")
def frontend_system(local_system: LocalSystem) -> LocalSystem:
    return local_system


@pytest.fixture
def browser(frontend_system: LocalSystem) -> Browser:
    """A fresh visitor (no cookies) reaching the site through the gateway."""
    return Browser(frontend_system.gateway_url)
