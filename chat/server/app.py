"""The FastAPI application: HTTP routes, the two websockets, and the background work."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import WebSocketRoute

from chat.api import admin, console, health, public, rating, staffing, supervisor, transcripts, widget, wrapups
from chat.api import auth as auth_routes
from chat.api import snippets as snippet_routes
from chat.services import intake
from chat.services.outage import RETRY_AFTER, drop_idle_connections
from chat.services.runtime import Runtime
from chat.services.webhook import AlertWebhook
from chat.settings import Settings
from chat.store.sql import Snippet
from chat.ws.connection import STREAM_PATH, TransportMiddleware
from chat.ws.counselor import counselor_endpoint
from chat.ws.fallback import SEND_PATH, send_endpoint, stream_endpoint
from chat.ws.instance import InstanceKeeper
from chat.ws.visitor import visitor_endpoint
from chat.ws.watcher import Watcher

log = logging.getLogger("chat.server.app")

ROOT = Path(__file__).resolve().parents[2]


async def seed_snippets(rt: Runtime) -> int:
    """Fill an empty snippets table from the seed file; an operator reviews it afterwards."""
    from chat.snippets import load_seed

    async with rt.db() as db:
        count = (await db.execute(select(func.count()).select_from(Snippet))).scalar_one()
        if count:
            return 0
        rows = load_seed()
        for row in rows:
            db.add(
                Snippet(
                    slug=row.id,
                    language=row.language,
                    audience=row.audience,
                    category=row.category,
                    title=row.title,
                    body=row.body,
                    phone=row.phone,
                    url=row.url,
                    sort_order=row.sort_order,
                    active=row.active,
                )
            )
        try:
            await db.commit()
        except IntegrityError:
            # Instances started together on a fresh database: another one seeded it first.
            await db.rollback()
            return 0
        return len(rows)


# How long a starting instance waits for Redis (restarting, failing over) before its startup fails.
STARTUP_REDIS_WAIT_SECONDS = 60.0


async def wait_for_redis(rt: Runtime) -> None:
    """Start once Redis answers: an instance (re)started during a Redis restart waits instead of failing,
    saying so once (chat/services/outage.py); past STARTUP_REDIS_WAIT_SECONDS the startup fails."""
    deadline = time.monotonic() + STARTUP_REDIS_WAIT_SECONDS
    while True:
        try:
            await asyncio.wait_for(rt.redis.ping(), 2)
            break
        except (RedisError, OSError, TimeoutError) as exc:
            if time.monotonic() > deadline:
                raise
            rt.outage.failed("startup", exc)
            await asyncio.sleep(0.2)
    rt.outage.recovered("startup")


# For every answer that did not set its own policy (JSON, plain text, errors): nothing may run, load or frame it.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


def add_security_headers(path: str, response: Response, settings: Settings) -> None:
    """The headers every HTTP answer carries (docs/security.md); pages that set their own CSP keep it."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    if "content-security-policy" not in headers:
        headers["Content-Security-Policy"] = DEFAULT_CSP
        headers.setdefault("X-Frame-Options", "DENY")
    if settings.environment == "production":
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")


def create_app(settings: Settings, redis_url: str, *, clock: Callable[[], int] | None = None) -> FastAPI:
    """Build the app. ``clock`` (milliseconds) lets a test hold the time."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = Runtime.build(settings, redis_url)
        if clock is not None:
            rt.clock = clock
        rt.extras["started"] = time.time()
        await wait_for_redis(rt)
        await rt.hub.start()
        # The relay lost Redis and is back: the pooled connections are stale too.
        rt.hub.on_resync(lambda: drop_idle_connections(rt.redis))
        # Publishers and the hub agree: SPUBLISH where the hub listens with SSUBSCRIBE (a Redis 7 cluster).
        rt.store.use_sharded_pubsub(rt.hub.sharded)
        rt.tokens.sharded = rt.hub.sharded
        watcher = Watcher(rt)
        rt.extras["watcher"] = watcher
        rt.extras["snippet_lookup"] = snippet_routes.make_lookup(rt)
        if settings.alert_webhook_url:
            rt.extras["alert_webhook"] = AlertWebhook(settings.alert_webhook_url, rt.redis, rt.keys)
        intake.install(rt)
        await seed_snippets(rt)
        await watcher.start()
        keeper = InstanceKeeper(rt)
        rt.extras["instance"] = keeper
        await keeper.start()

        def before_close() -> None:
            """The close phase of a graceful stop begins (chat/server/drain.py), just before every socket gets
            1012: the sockets' counts go over in bulk, and closing them unsubscribes nothing one by one."""
            rt.hub.wind_down()
            keeper.hand_over_soon()

        rt.extras["before_close"] = before_close
        app.state.rt = rt
        try:
            yield
        finally:
            await keeper.stop()
            await watcher.stop()
            if "alert_webhook" in rt.extras:
                await rt.extras["alert_webhook"].stop()
            await rt.close()

    app = FastAPI(title="Helpline chat", version="1", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.include_router(health.router)
    app.include_router(public.router)
    app.include_router(auth_routes.router)
    app.include_router(snippet_routes.router)
    app.include_router(supervisor.router)
    app.include_router(admin.router)
    app.include_router(transcripts.router)
    app.include_router(staffing.router)
    app.include_router(wrapups.router)
    app.include_router(rating.router)
    app.include_router(widget.api)
    app.include_router(widget.router)
    app.include_router(console.router)
    # Plain Starlette routes (no FastAPI dependencies); TransportMiddleware calls these endpoints itself.
    app.router.routes.append(WebSocketRoute("/ws/visitor", visitor_endpoint))
    app.router.routes.append(WebSocketRoute("/ws/counselor", counselor_endpoint))
    # The visitor's fallback transport where websockets are blocked (chat/ws/fallback.py); not in the API docs.
    app.add_route(STREAM_PATH, stream_endpoint, methods=["POST"], include_in_schema=False)
    app.add_route(SEND_PATH, send_endpoint, methods=["POST"], include_in_schema=False)

    @app.exception_handler(RedisError)
    async def store_unavailable(request: Request, exc: RedisError) -> Response:
        # Redis full (maxmemory with noeviction) or unreachable: a documented 503, never a stack trace; the
        # log says it once per outage (chat/services/outage.py).
        request.app.state.rt.outage.failed("http", exc)
        return JSONResponse({"detail": "unavailable"}, status_code=503, headers={"Retry-After": RETRY_AFTER})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        # Answered by the outermost middleware: the security headers are added here, not below.
        log.exception("http: unexpected failure")
        response = JSONResponse({"detail": "internal error"}, status_code=500)
        add_security_headers(request.url.path, response, settings)
        return response

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        add_security_headers(request.url.path, response, settings)
        return response

    # Last, so outermost: the websocket endpoints get their transport, and are called from there
    # (see TransportMiddleware).
    app.add_middleware(
        TransportMiddleware,
        websockets={"/ws/visitor": visitor_endpoint, "/ws/counselor": counselor_endpoint},
        root=app,
    )
    return app
