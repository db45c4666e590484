#!/usr/bin/env python3
"""
Serves the interop project over HTTP on 127.0.0.1 and a free port, with the server
`manage.py runserver` uses (threaded), without the autoreloader. Prints {"port": N} on stdout once
listening; exits when its stdin closes (the test process that started it is gone).
"""
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "interop_site.settings")

import django  # noqa: E402
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
httpd = ThreadedWSGIServer(("127.0.0.1", 0), WSGIRequestHandler, allow_reuse_address=False)
httpd.set_app(application)


def exit_when_orphaned():
    sys.stdin.read()
    os._exit(0)


threading.Thread(target=exit_when_orphaned, daemon=True).start()
print(json.dumps({"port": httpd.server_address[1], "django": django.get_version()}), flush=True)
httpd.serve_forever()
