"""WSGI entry point shared by every deployable; DJANGO_SETTINGS_MODULE picks which one."""

from django.core.wsgi import get_wsgi_application

from config.entrypoint import require_settings_module

require_settings_module()

application = get_wsgi_application()
