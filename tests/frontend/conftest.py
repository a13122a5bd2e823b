import pytest

from ops.local import LocalSystem
from tests.frontend.site import Browser


@pytest.fixture(scope="session")
def frontend_system(local_system: LocalSystem) -> LocalSystem:
    return local_system


@pytest.fixture
def visitor(frontend_system: LocalSystem) -> Browser:
    """A fresh anonymous visitor (no cookies) reaching the site through the gateway."""
    return Browser(frontend_system.gateway_url, frontend_system.credentials)


@pytest.fixture
def browser(visitor: Browser) -> Browser:
    """The operator, signed in through the sign-in page, in a fresh browser."""
    visitor.sign_in()
    return visitor
