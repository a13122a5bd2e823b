"""WSGI entry point shared by every deployable; DJANGO_SETTINGS_MODULE picks which one."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.customers")

application = get_wsgi_application()
