import os

from django.core.wsgi import get_wsgi_application

from config.gunicorn_server_header import hide_server_header

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
hide_server_header()  # gunicorn only: no `Server: gunicorn` (config/gunicorn_server_header.py)
