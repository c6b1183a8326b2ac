"""The ``winback serve`` ASGI application: one Starlette app for every client of a folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from winback.web import feedback, oauth, unsubscribe, webhooks
from winback.web.hub import Hub, ServeOptions


async def health(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    return JSONResponse({"ok": True, "clients": len(hub.clients), "handled": hub.handled})


async def not_found(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("not found\n", status_code=404)


def create_app(config_dir: Path, options: ServeOptions | None = None) -> Starlette:
    """The app; its clients are loaded now (bad configs are logged and skipped), its background
    work starts with the ASGI lifespan and stops with it."""
    hub = Hub(Path(config_dir), options)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()

    address = "/u/{client}/{purpose}/{address}/{token}"
    routes = [
        Route("/healthz", health, methods=["GET"]),
        Route(address, unsubscribe.page, methods=["GET"]),
        Route(address, unsubscribe.act, methods=["POST"]),
        Route("/f/{client}/{order}/{token}", feedback.page, methods=["GET"]),
        Route("/f/{client}/{order}/{token}", feedback.act, methods=["POST"]),
        Route("/webhooks/shopify", webhooks.shopify, methods=["POST"]),
        Route("/webhooks/ecwid", webhooks.ecwid, methods=["POST"]),
        Route("/oauth/shopify/callback", oauth.shopify_callback, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: not_found})
    app.state.hub = hub
    return app
