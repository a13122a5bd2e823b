"""What manage.py and config.wsgi check first: which deployable to run. One code tree serves every
service, so there is no sensible default; guessing one would start the wrong service quietly."""

import os
import pkgutil
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# Shared by every deployable, or the test suite's: not deployables.
_NOT_A_DEPLOYABLE = frozenset({"base", "test"})


def settings_module_choices() -> list[str]:
    folder = Path(__file__).with_name("settings")
    names = (module.name for module in pkgutil.iter_modules([str(folder)]))
    return sorted(f"config.settings.{name}" for name in names if name not in _NOT_A_DEPLOYABLE)


def require_settings_module() -> str:
    """DJANGO_SETTINGS_MODULE; ImproperlyConfigured naming the variable and its choices when unset."""
    module = os.environ.get("DJANGO_SETTINGS_MODULE", "").strip()
    if not module:
        raise ImproperlyConfigured(
            "DJANGO_SETTINGS_MODULE is not set. Set it to the deployable to run, config.settings.<service>: "
            f"one of {', '.join(settings_module_choices())}."
        )
    return module
