"""Real Redis topologies on loopback for the tests: a 3-master Redis Cluster, a primary + replica + 3 Sentinels.

Each is a set of ``redis-server`` processes on free ports in a temporary directory, stopped by ``stop()``.
The newest ``redis-server`` on PATH is used (the virtualenv may carry an older one for the embedded mode);
Sentinels run as ``redis-sentinel`` or, where only the server is installed, ``redis-server --sentinel``
(the same program).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import redis


def _candidates(name: str) -> list[str]:
    found: list[str] = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        path = os.path.join(folder, name)
        if os.access(path, os.X_OK) and os.path.realpath(path) not in {os.path.realpath(p) for p in found}:
            found.append(path)
    return found


def _version(binary: str) -> tuple[int, ...]:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in match.groups()) if match else ()


def redis_server() -> tuple[str, tuple[int, ...]] | None:
    """The newest redis-server on PATH and its version, or None."""
    best = max(((b, _version(b)) for b in _candidates("redis-server")), key=lambda bv: bv[1], default=None)
    return best if best and best[1] else None


def sentinel_command(conf: str = "sentinel.conf") -> list[str] | None:
    """The command line of a Sentinel with the config file ``conf`` (which must come first)."""
    server = redis_server()
    for binary in _candidates("redis-sentinel"):
        if server is None or _version(binary) >= server[1]:
            return [binary, conf]
    return [server[0], conf, "--sentinel"] if server else None


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(n: int, *, bus: bool = False) -> list[int]:
    """``n`` free loopback ports (with ``bus``: port + 10000 free too, for the cluster bus)."""
    ports: list[int] = []
    while len(ports) < n:
        port = random.randint(20000, 45000)
        if port not in ports and _free(port) and (not bus or _free(port + 10000)):
            ports.append(port)
    return ports


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


class Nodes:
    """The processes of one topology; ``stop()`` ends them all."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.logs: list[IO[bytes]] = []

    def spawn(self, port: int, args: list[str], command: list[str] | None = None) -> None:
        server = redis_server()
        assert server is not None
        log = open(self.folder / f"{port}.log", "wb")  # noqa: SIM115  # kept open for the process
        self.logs.append(log)
        proc = self.procs[port] = subprocess.Popen(
            [*(command or [server[0]]), *args], cwd=self.folder, stdout=log, stderr=subprocess.STDOUT
        )

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"redis on port {port} exited: {(self.folder / f'{port}.log').read_text()}")
            return bool(redis.Redis(port=port, socket_timeout=1).ping())

        wait_for(up, f"redis on port {port}")

    def kill(self, port: int) -> None:
        proc = self.procs.pop(port)
        proc.kill()
        proc.wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.procs.clear()
        for log in self.logs:
            log.close()


_BASE = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"]


class Cluster(Nodes):
    """Three masters, no replicas."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.ports = free_ports(3, bus=True)

    def args(self, port: int) -> list[str]:
        return [
            "--port",
            str(port),
            *_BASE,
            "--dbfilename",
            f"dump-{port}.rdb",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            f"nodes-{port}.conf",
        ]

    def start(self) -> Cluster:
        for port in self.ports:
            self.spawn(port, self.args(port))
        server = redis_server()
        assert server is not None
        cli = shutil.which("redis-cli", path=os.path.dirname(server[0])) or "redis-cli"
        subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports), "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.wait_ok()
        return self

    def wait_ok(self) -> None:
        for port in self.ports:
            wait_for(lambda p=port: redis.Redis(port=p).cluster("INFO").get("cluster_state") == "ok",
                     f"cluster state ok on {port}")  # fmt: skip

    def restart(self, port: int) -> None:
        """The node goes away (its connections drop) and comes back on the same port with its data and slots."""
        try:
            redis.Redis(port=port).shutdown(save=True)
        except redis.ConnectionError:
            pass
        self.procs.pop(port).wait(10)
        self.spawn(port, self.args(port))
        self.wait_ok()

    def port_of(self, key: str) -> int:
        """The port of the node that owns ``key``'s slot (the others answer MOVED)."""
        for port in self.ports:
            try:
                redis.Redis(port=port).exists(key)
            except redis.ResponseError:
                continue
            return port
        raise LookupError(key)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports) + "/"


class Replicated(Nodes):
    """A primary, a replica and three Sentinels that watch them as ``chatmaster``."""

    master = "chatmaster"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.primary, self.replica, *self.sentinels = free_ports(5)

    def start(self) -> Replicated:
        self.spawn(self.primary, ["--port", str(self.primary), *_BASE])
        self.spawn(self.replica, ["--port", str(self.replica), *_BASE, "--replicaof", "127.0.0.1", str(self.primary)])
        wait_for(
            lambda: b"master_link_status:up" in redis.Redis(port=self.replica).execute_command("INFO replication"),
            "the replica in sync",
        )
        for port in self.sentinels:
            conf = self.folder / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\nprotected-mode no\n"
                f"sentinel monitor {self.master} 127.0.0.1 {self.primary} 2\n"
                f"sentinel down-after-milliseconds {self.master} 2000\n"
                f"sentinel failover-timeout {self.master} 10000\n"
            )
            self.spawn(port, [], command=sentinel_command(str(conf)))
        for port in self.sentinels:
            wait_for(
                lambda p=port: bool(redis.Redis(port=p).execute_command("SENTINEL", "REPLICAS", self.master)),
                f"sentinel {port} knows the replica",
            )
        return self

    @property
    def url(self) -> str:
        return "redis+sentinel://" + ",".join(f"127.0.0.1:{p}" for p in self.sentinels) + f"/{self.master}"

    def current_primary(self) -> int:
        host, port = redis.Redis(port=self.sentinels[0], decode_responses=True).execute_command(
            "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master
        )
        return int(port)
