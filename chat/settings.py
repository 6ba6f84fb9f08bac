"""All configuration in one place: environment variables with the ``CHAT_`` prefix."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of the service. README.md documents each one."""

    model_config = SettingsConfigDict(env_prefix="CHAT_", env_file=None, extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path(".chat-data")
    # None means the embedded defaults: SQLite in data_dir and a private redis-server.
    redis_url: str | None = None
    database_url: str | None = None
    redis_prefix: str = "chat"
    redis_max_connections: int = 64
    # A command that could not reach Redis (connection refused: a restart, a failover) is sent again for up to
    # this long before the answer is `unavailable` (1013 / 503). A command that reached Redis is never resent.
    redis_retry_seconds: float = 2.0
    # SIGTERM: /readyz answers 503 for this long while every socket keeps working, then each gets 1012.
    drain_seconds: float = 5.0
    # After each stored message, WAIT for this many replicas (at most redis_wait_timeout_ms) before the ack;
    # 0: no WAIT. One server or Sentinel only (docs/deploy.md "What a failover can lose").
    redis_wait_replicas: int = 0
    redis_wait_timeout_ms: int = 100
    # The embedded redis-server's memory limit (redis syntax: 256mb, 1gb); it never evicts (noeviction).
    embedded_redis_maxmemory: str = "256mb"
    # HMAC key for hashing client addresses and login names; generated per data dir in development.
    secret_key: str | None = None
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # /metrics answers only a Bearer with this token; unset, /metrics is off (404).
    metrics_token: str | None = None

    # Weekly schedule with exceptions (TOML, see chat/data/hours.example.toml); unset = always open.
    hours_file: Path | None = None
    # Folder of <language>.txt triage term lists; unset = the lists shipped in chat/data/triage.
    triage_dir: Path | None = None
    # Every visitor message of a session's first this-many seconds is scanned (queued or in a chat).
    triage_window_seconds: float = 15 * 60.0

    max_frame_bytes: int = 16 * 1024
    # A connection must send a complete request head (or websocket handshake) within this many seconds.
    header_timeout_seconds: float = 10.0
    # Open TCP connections per client address (not for trusted proxies), and websockets per client address
    # (forwarded addresses included) in one process. Generous: a school shares one address.
    max_connections_per_address: int = 1000
    max_sockets_per_address: int = 500
    max_text_chars: int = 4000
    first_frame_timeout: float = 10.0
    visitor_grace_seconds: float = 120.0
    # A queued visitor keeps their place this long while away (a phone locked or in another app).
    queued_grace_seconds: float = 600.0
    # The fallback transport's event stream sends a keep-alive this often, so that proxies keep it open and
    # the client can tell a stream that stopped carrying from a quiet one.
    stream_heartbeat_seconds: float = 15.0
    idle_timeout_seconds: float = 30 * 60.0
    # A queued session that never wrote anything ends after this long (it keeps its place while it writes).
    queued_silent_timeout_seconds: float = 30 * 60.0
    session_ttl_seconds: int = 24 * 3600
    ended_ttl_seconds: int = 3600
    # A counselor's capacity until they set one; supervisors are alerted after this wait.
    default_capacity: int = 3
    alert_after_seconds: float = 180.0
    # An urgent visitor escalates to supervisors (and the webhook) after this wait.
    alert_urgent_after_seconds: float = 30.0
    # Optional: a JSON POST with counts only, for supervisors who are not logged in (docs/console.md).
    alert_webhook_url: str | None = None
    # How long an ended chat waits for the counselor's wrap-up before it is archived without one.
    wrapup_wait_seconds: float = 600.0
    # Transcripts: kept this many days; false keeps only the text-free summary.
    store_transcripts: bool = True
    transcript_retention_days: int = 30
    # A counselor may read the transcripts of their own chats for this many days after the end
    # (supervisors and admins read every transcript, for as long as it is kept).
    own_transcript_days: float = 7.0
    # The archiver's lease on a session; another archiver takes over when it runs out.
    archive_lease_seconds: float = 60.0
    # No archiver heartbeat for this long: /readyz says "archiver": "missing", /metrics and the alerts see it.
    archiver_stale_seconds: float = 60.0
    # Fault injection for tests and drills: "claimed:SECONDS" or "written:SECONDS" pauses the
    # archiver at that point of archiving a session (so that it can be killed there).
    archiver_pause: str | None = None
    # deduce's lookup structures, built once (slow) and loaded from here; default <data_dir>/deduce-cache.
    deduce_cache_dir: Path | None = None
    # chat serve on the embedded default starts an archiver child process.
    embedded_archiver: bool = True
    token_ttl_seconds: int = 8 * 3600
    login_max_failures: int = 5
    login_window_seconds: int = 15 * 60
    # Failures for one username from everywhere only slow its logins down, up to this many seconds each.
    login_max_delay_seconds: float = 10.0
    # Per session (all its sockets, on every instance together), and per client address (all its sessions).
    messages_per_second: float = 5.0
    message_burst: int = 20
    address_messages_per_second: float = 50.0
    address_message_burst: int = 200
    # A session's stored events and bytes are capped; beyond: `too_large` with reason `session_full`.
    max_session_events: int = 2000
    max_session_bytes: int = 2 * 1024 * 1024
    hellos_per_minute: int = 30
    # A chat ended as abusive refuses new chats from that client hash for this long.
    block_seconds: int = 24 * 3600
    sweep_interval: float = 1.0
    # Each instance refreshes a heartbeat key this often; one whose key expired (TTL) is dead, and a living
    # instance takes over the visitors and counselors it held (docs/operations.md, "Instance death").
    instance_heartbeat_seconds: float = 2.0
    instance_ttl_seconds: float = 6.0
    # A counselor whose sockets are all gone this long has their open chats handed back to the queue's head.
    counselor_grace_seconds: float = 120.0

    @field_validator("allowed_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_weak_production(self) -> Settings:
        if self.environment == "production":
            if not self.secret_key or len(self.secret_key) < 32:
                raise ValueError("CHAT_SECRET_KEY must be set to at least 32 characters in production")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The async SQLAlchemy URL; plain postgresql:// URLs get the asyncpg driver."""
        url = self.database_url
        if not url:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'chat.sqlite3').resolve()}"
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+asyncpg://" + url[len(plain) :]
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
        return url

    @property
    def deduce_cache(self) -> Path:
        return self.deduce_cache_dir or self.data_dir / "deduce-cache"

    def resolved_secret(self) -> bytes:
        """The HMAC secret: configured, or one generated once and kept in the data folder."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret.key"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    return Settings()
