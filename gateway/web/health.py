"""GET /health: "ok", for a proxy or monitor. GET /healthz: 200 "ok" when the database, the
pipeline process and delivery are alive; 503 with the reasons otherwise."""

from __future__ import annotations

import asyncio

from aiohttp import web


def routes(server) -> list[web.RouteDef]:
    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def healthz(request: web.Request) -> web.Response:
        """200 "ok" when the database, the pipeline process and delivery are alive; else 503
        and the reasons, one per line."""
        reasons = await asyncio.to_thread(server.problems) if server.problems else []
        if reasons:
            return web.Response(status=503, text="".join(f"{r}\n" for r in reasons))
        return web.Response(text="ok\n")

    return [web.get("/health", health), web.get("/healthz", healthz)]
