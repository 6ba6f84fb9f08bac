"""``chat serve --workers N``: N server processes on one port, and the process that watches them.

Each worker is a whole ``chat serve`` (its own event loop, Redis pool and pub/sub hub) that binds
its own listening socket to the same address with ``SO_REUSEPORT``, so the kernel spreads new
connections over the workers and no process hands sockets to another. Workers share nothing but
Redis and the database, exactly like instances on several machines: a visitor may resume on any of
them. The supervisor (this module, in the ``chat serve`` process itself) migrates the database once,
starts the workers, prints the one ``chat: listening on`` line when all of them listen, restarts a
worker that dies, and on SIGTERM/SIGINT passes the signal on and waits for every worker.

Metrics: with several workers each process counts for itself, so prometheus-client's multiprocess
mode is switched on (``PROMETHEUS_MULTIPROC_DIR``; a temporary folder unless the operator set one)
and a scrape of any worker sums them all (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("chat.server.workers")

READY_PREFIX = "chat: listening on "
# How long the workers may take to listen, and to finish after SIGTERM.
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
# A worker that dies is started again, but not more often than this.
RESTART_SECONDS = 1.0


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEPORT, not yet listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class _Worker:
    def __init__(self, index: int, cmd: list[str], env: dict[str, str], out: _Output) -> None:
        self.index = index
        self.ready = threading.Event()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self.proc.stdout is not None
        self._thread = threading.Thread(target=out.forward, args=(self.proc.stdout, self.ready), daemon=True)
        self._thread.start()


class _Output:
    """Forwards the workers' stdout line by line; their own "listening" lines stay here, and a plain
    ``chat:`` line the workers all print (no counselors yet) is printed once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._said: set[str] = set()

    def forward(self, stream: IO[str], ready: threading.Event) -> None:
        for line in stream:
            if line.startswith(READY_PREFIX):
                ready.set()
                continue
            with self._lock:
                if line.startswith("chat: "):
                    if line in self._said:
                        continue
                    self._said.add(line)
                sys.stdout.write(line)
                sys.stdout.flush()

    def say(self, line: str) -> None:
        with self._lock:
            print(line, flush=True)


class Supervisor:
    def __init__(self, workers: int, host: str, port: int, env: dict[str, str]) -> None:
        if workers < 1:
            raise ValueError("--workers must be 1 or more")
        self.count = workers
        self.host = host
        self.port = port
        self.env = dict(env)
        self._stop = threading.Event()
        self._out = _Output()

    def _handle(self, signum: int, frame: Any) -> None:
        self._stop.set()

    def _spawn(self, index: int, port: int) -> _Worker:
        cmd = [sys.executable, "-m", "chat", "serve", "--host", self.host, "--port", str(port), "--worker"]
        return _Worker(index, cmd, self.env, self._out)

    def run(self) -> int:
        owned_dir: Path | None = None
        metrics_dir = self.env.get("PROMETHEUS_MULTIPROC_DIR")
        if metrics_dir:
            # prometheus-client wants the folder empty at start: the files of an earlier run would count.
            for stale in Path(metrics_dir).glob("*.db"):
                stale.unlink(missing_ok=True)
        else:
            owned_dir = Path(tempfile.mkdtemp(prefix="chat-metrics-"))
            self.env["PROMETHEUS_MULTIPROC_DIR"] = str(owned_dir)
        # Bound and never listening: it only holds the port (and picks one for --port 0).
        probe = reuseport_socket(self.host, self.port)
        port = probe.getsockname()[1]
        in_main = threading.current_thread() is threading.main_thread()
        original = {}
        if in_main:
            original = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        workers: list[_Worker] = []
        try:
            workers = [self._spawn(i, port) for i in range(self.count)]
            deadline = time.monotonic() + START_TIMEOUT
            while not self._stop.is_set() and not all(w.ready.is_set() for w in workers):
                if time.monotonic() > deadline or any(w.proc.poll() is not None for w in workers):
                    log.error("workers: not every worker started; stopping")
                    return 1
                self._stop.wait(0.05)
            if self._stop.is_set():
                return 0
            log.info(
                "workers listening", extra={"fields": {"event": "workers.started", "workers": self.count, "port": port}}
            )
            self._out.say(f"{READY_PREFIX}http://{self.host}:{port}")
            while not self._stop.wait(0.2):
                for i, w in enumerate(workers):
                    code = w.proc.poll()
                    if code is None or time.monotonic() - w.started < RESTART_SECONDS:
                        continue
                    log.warning(
                        "worker %d exited with %s; starting it again",
                        w.index,
                        code,
                        extra={"fields": {"event": "workers.restart", "worker": w.index, "code": code}},
                    )
                    workers[i] = self._spawn(w.index, port)
            return 0
        finally:
            self._stop_all(workers)
            probe.close()
            for sig, handler in original.items():
                signal.signal(sig, handler)
            if owned_dir is not None:
                shutil.rmtree(owned_dir, ignore_errors=True)

    def _stop_all(self, workers: list[_Worker]) -> None:
        for w in workers:
            if w.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    w.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for w in workers:
            try:
                w.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker %d did not stop within %.0f s; killed", w.index, STOP_TIMEOUT)
                w.proc.kill()
                w.proc.wait()


def worker_env(redis_url: str) -> dict[str, str]:
    """The workers' environment: this one, with the Redis every worker uses (the embedded one too)."""
    return {**os.environ, "CHAT_REDIS_URL": redis_url}
