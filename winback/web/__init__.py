"""``winback serve``: one-click unsubscribe pages and the platforms' webhooks, for every client
of a config folder, as one ASGI application (Starlette, served by uvicorn).

* :func:`create_app` builds the application; :class:`ServeOptions` holds its knobs;
* :mod:`winback.web.hub` keeps the clients and the background work;
* :mod:`winback.web.unsubscribe`, :mod:`winback.web.feedback` (answers to feedback requests),
  :mod:`winback.web.webhooks` are the routes;
  :mod:`winback.web.events` what each webhook topic does.
"""

from winback.web.app import create_app
from winback.web.hub import Hub, ServeOptions

__all__ = ["Hub", "ServeOptions", "create_app"]
