"""The ``chat`` command: serve, migrate, counselor add|disable|passwd, redact, archiver, purge."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import subprocess
import sys
import time
from typing import Any

from chat.server import logs
from chat.settings import Settings

log = logging.getLogger("chat.cli")


def serve_config(settings: Settings, app: Any, host: str, port: int) -> Any:
    """The uvicorn configuration every server uses, tests included: frame limit, no deflate, no access log."""
    import uvicorn
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    from chat.server.guard import guarded_protocol

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(
            AutoHTTPProtocol,
            header_timeout=settings.header_timeout_seconds,
            max_per_address=settings.max_connections_per_address,
            trusted=frozenset(settings.trusted_proxies),
        ),
        h11_max_incomplete_event_size=16 * 1024,
        ws="websockets-sansio",
        ws_max_size=settings.max_frame_bytes,
        ws_per_message_deflate=False,
        access_log=False,
        log_config=logs.uvicorn_log_config(),
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
        lifespan="on",
    )


def make_server(config: Any, drain_seconds: float = 0.0) -> Any:
    """A uvicorn server that drains on SIGTERM/SIGINT (chat/server/drain.py) and then exits normally."""
    from chat.server.drain import DrainingServer

    return DrainingServer(config, drain_seconds)


def _redis_url(settings: Settings) -> tuple[str, Any]:
    if settings.redis_url:
        return settings.redis_url, None
    from chat.server.embedded import EmbeddedRedis

    embedded = EmbeddedRedis(settings.data_dir, maxmemory=settings.embedded_redis_maxmemory)
    return embedded.start(), embedded


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from chat.store.migrate import upgrade

    if args.worker:
        # One of `chat serve --workers N`: the supervisor migrated and passes the Redis URL.
        from chat.server.app import create_app
        from chat.server.workers import reuseport_socket

        if not settings.redis_url:
            print("chat: --worker needs CHAT_REDIS_URL (chat serve --workers N sets it)", file=sys.stderr)
            return 2
        server = make_server(
            serve_config(settings, create_app(settings, settings.redis_url), args.host, args.port),
            settings.drain_seconds,
        )
        _tune_gc()
        _run(_serve_and_announce(server, settings, [reuseport_socket(args.host, args.port)]))
        _freeze_for_exit()
        return 0
    upgrade(settings)
    redis_url, embedded = _redis_url(settings)
    archiver = None
    try:
        if embedded is not None and settings.embedded_archiver:
            # The one command runs everything: an archiver beside the server on the same embedded Redis.
            archiver = subprocess.Popen(
                [sys.executable, "-m", "chat", "archiver"],
                env={**os.environ, "CHAT_REDIS_URL": redis_url, "CHAT_DATA_DIR": str(settings.data_dir)},
            )
        if args.workers > 1:
            from chat.server.workers import Supervisor, worker_env

            return Supervisor(args.workers, args.host, args.port, worker_env(redis_url)).run()
        from chat.server.app import create_app  # not in the supervisor of --workers: only its workers serve

        server = make_server(
            serve_config(settings, create_app(settings, redis_url), args.host, args.port), settings.drain_seconds
        )
        _tune_gc()
        _run(_serve_and_announce(server, settings))
    finally:
        if archiver is not None:
            archiver.terminate()
            try:
                archiver.wait(30)
            except subprocess.TimeoutExpired:
                archiver.kill()
        if embedded is not None:
            embedded.stop()
    _freeze_for_exit()
    return 0


# CPython's full (generation 2) garbage collection walks every live object: with 10,000 sockets open that
# was about 0.85 s a time, once every ~10 s while the queue sat idle and a dozen times during a surge of
# hellos (bench_idle.py with gc.callbacks timing each collection). A server's objects live as long as its
# sockets; its garbage is young. So what exists at start (modules, the app) is frozen out of every
# collection, the young generation is collected every 50,000 allocations instead of 700, and a full
# collection waits for 100 collections of the middle one instead of 10 (and, as always in CPython, until
# the objects that survived since the last one are a quarter of all of them).
GC_THRESHOLDS = (50_000, 20, 100)


def _tune_gc() -> None:
    import gc

    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _freeze_for_exit() -> None:
    """The server has stopped; only the interpreter's exit is left. Its garbage collections walk every object
    still alive (with 10,000 sockets' worth of them, seconds: 3 s after 1,000 sockets on a loaded machine),
    which nothing needs any more: frozen, they are skipped, and the process is gone at once (bench_idle.py)."""
    import gc

    gc.freeze()


def _run(coro: Any) -> None:
    """uvloop when installed (it comes with uvicorn[standard]): a faster event loop and socket writes."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
        return
    uvloop.run(coro)


async def _serve_and_announce(server: Any, settings: Settings, sockets: list[Any] | None = None) -> None:
    task = asyncio.create_task(server.serve(sockets=sockets))
    watch: asyncio.Task[None] | None = None
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if server.started:
        sock = server.servers[0].sockets[0].getsockname()
        if await _no_counselors(settings):
            print("chat: no counselors yet; create one with: chat counselor add NAME --role admin", flush=True)
        log.info(
            "startup",
            extra={"fields": {"event": "startup", "port": sock[1], "settings": startup_settings(settings)}},
        )
        # Tests and scripts read the port from this line (port 0 picks a free one).
        print(f"chat: listening on http://{sock[0]}:{sock[1]}", flush=True)
        if settings.redis_url:
            watch = asyncio.create_task(_watch_archiver(settings, settings.redis_url))
    try:
        await task
    finally:
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watch


# Settings an operator wants to see at startup; never a secret, a token, a password or a URL with credentials.
_STARTUP_SETTINGS = (
    "environment",
    "redis_max_connections",
    "redis_prefix",
    "store_transcripts",
    "transcript_retention_days",
    "embedded_archiver",
    "archiver_stale_seconds",
    "default_capacity",
    "idle_timeout_seconds",
    "max_connections_per_address",
)


def startup_settings(settings: Settings) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(settings, k) for k in _STARTUP_SETTINGS if hasattr(settings, k)}
    out["redis"] = "external" if settings.redis_url else "embedded"
    out["database"] = settings.sqlalchemy_url.split(":", 1)[0].split("+", 1)[0]
    out["metrics"] = bool(settings.metrics_token)
    out["secret_key"] = "set" if settings.secret_key else "generated"
    return out


async def _watch_archiver(settings: Settings, redis_url: str) -> None:
    """With an external Redis nothing here starts an archiver: warn at startup, and whenever none is seen."""
    from chat.services import metrics
    from chat.store.client import connect
    from chat.store.keys import Keys

    redis = connect(redis_url, server=False)
    keys = Keys(settings.redis_prefix)
    seen = True
    try:
        while True:
            try:
                now = int(time.time() * 1000)
                alive = await metrics.archivers_alive(redis, keys, now, settings.archiver_stale_seconds)
            except Exception:
                alive = seen  # Redis trouble is reported elsewhere (readyz, chat_redis_errors)
            if not alive and seen:
                log.warning(
                    "no archiver has been seen for %.0f s: without `chat archiver` there are no transcripts, "
                    "no statistics and no retention purge (docs/operations.md)",
                    settings.archiver_stale_seconds,
                    extra={"fields": {"event": "archiver.missing"}},
                )
            elif alive and not seen:
                log.info("an archiver is running again", extra={"fields": {"event": "archiver.seen"}})
            seen = bool(alive)
            await asyncio.sleep(min(30.0, settings.archiver_stale_seconds))
    finally:
        await redis.aclose()


async def _no_counselors(settings: Settings) -> bool:
    from sqlalchemy import func, select

    from chat.store.sql import Counselor, make_engine

    engine = make_engine(settings.sqlalchemy_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(select(func.count()).select_from(Counselor))).scalar_one() == 0
    finally:
        await engine.dispose()


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from chat.store.migrate import upgrade

    upgrade(settings)
    print("chat: database is at the newest schema")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise SystemExit("chat: the passwords differ")
    return password


def cmd_counselor(args: argparse.Namespace, settings: Settings) -> int:
    from chat.store.migrate import upgrade

    upgrade(settings)
    return asyncio.run(_counselor(args, settings))


async def _counselor(args: argparse.Namespace, settings: Settings) -> int:
    from chat.services import accounts
    from chat.services.auth import Role
    from chat.store.sql import make_engine, make_sessionmaker

    engine = make_engine(settings.sqlalchemy_url)
    try:
        async with make_sessionmaker(engine)() as db:
            if args.action == "add":
                try:
                    added = await accounts.add(db, args.name, _read_password(args), Role(args.role), args.display_name)
                except accounts.AccountError as exc:
                    print(f"chat: {exc}", file=sys.stderr)
                    return 1
                print(f"chat: counselor {added.username} added ({added.role})")
                return 0
            row = await accounts.find(db, args.name)
            if row is None:
                print(f"chat: no counselor named {accounts.normalise_username(args.name)}", file=sys.stderr)
                return 1
            if args.action == "disable":
                row.active = False
                verb = "disabled"
            else:
                try:
                    accounts.set_password(row, _read_password(args))
                except accounts.AccountError as exc:
                    print(f"chat: {exc}", file=sys.stderr)
                    return 1
                verb = "has a new password"
            await db.commit()
            revoked = await _revoke_all(settings, row.id)
            print(f"chat: counselor {row.username} {verb}; {revoked} login(s) revoked")
            return 0
    finally:
        await engine.dispose()


async def _revoke_all(settings: Settings, counselor_id: int) -> int:
    """Revoke the counselor's tokens in the Redis the servers use (if one is reachable)."""
    from chat.server.embedded import running_url
    from chat.services.auth import TokenStore
    from chat.store.client import connect, sharded_pubsub
    from chat.store.keys import Keys

    url = settings.redis_url or running_url(settings.data_dir)
    if url is None:
        return 0  # embedded Redis not running: its tokens died with it
    redis = connect(url, server=False)
    try:
        tokens = TokenStore(redis, Keys(settings.redis_prefix), settings.token_ttl_seconds)
        tokens.sharded = await sharded_pubsub(redis)
        return await tokens.revoke_all(counselor_id)
    except Exception:
        print("chat: warning: could not reach Redis to revoke logins", file=sys.stderr)
        return 0
    finally:
        await redis.aclose()


def cmd_archiver(args: argparse.Namespace, settings: Settings) -> int:
    from chat.archiver import main as archiver_main
    from chat.server.embedded import running_url

    redis_url = settings.redis_url or running_url(settings.data_dir)
    if redis_url is None:
        print("chat: no Redis: set CHAT_REDIS_URL, or start chat serve on this data folder first", file=sys.stderr)
        return 1
    return asyncio.run(archiver_main(settings, redis_url, once=args.once))


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    from chat.archiver import purge_main

    return asyncio.run(purge_main(settings))


def cmd_redact(args: argparse.Namespace, settings: Settings) -> int:
    from chat.redaction import run_cli

    return run_cli(sys.stdin, sys.stdout, jsonl=args.jsonl, cache_dir=settings.deduce_cache)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chat", description="Anonymous helpline chat")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server (embedded Redis and SQLite unless configured)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes on the one port (SO_REUSEPORT; about one per core, docs/capacity.md)",
    )
    # Internal: one of the --workers processes (binds with SO_REUSEPORT; the supervisor migrated).
    serve.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(func=cmd_migrate)

    counselor = sub.add_parser("counselor", help="manage counselor accounts")
    csub = counselor.add_subparsers(dest="action", required=True)
    add = csub.add_parser("add", help="add a counselor")
    add.add_argument("name")
    add.add_argument("--role", choices=["counselor", "supervisor", "admin"], default="counselor")
    add.add_argument("--display-name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    disable = csub.add_parser("disable", help="disable a counselor and revoke their logins")
    disable.add_argument("name")
    passwd = csub.add_parser("passwd", help="set a new password and revoke their logins")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    counselor.set_defaults(func=cmd_counselor)

    archiver = sub.add_parser("archiver", help="archive ended sessions: redact, store, delete the raw events")
    archiver.add_argument("--once", action="store_true", help="archive what is ready now, then exit")
    archiver.set_defaults(func=cmd_archiver)

    purge = sub.add_parser("purge", help="delete transcripts older than CHAT_TRANSCRIPT_RETENTION_DAYS")
    purge.set_defaults(func=cmd_purge)

    redact = sub.add_parser("redact", help="redact personal data from stdin to stdout")
    redact.add_argument("--jsonl", action="store_true", help='one {"text": ...} object a line')
    redact.set_defaults(func=cmd_redact)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup()
    settings = Settings()
    result: int = args.func(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
