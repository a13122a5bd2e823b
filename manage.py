#!/usr/bin/env python
"""Django's command-line utility; pick the deployable with DJANGO_SETTINGS_MODULE."""

import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.management import execute_from_command_line

from config.entrypoint import require_settings_module


def main() -> None:
    try:
        require_settings_module()
    except ImproperlyConfigured as error:
        raise SystemExit(f"manage.py: {error}") from None
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
