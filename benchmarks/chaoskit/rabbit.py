"""Private RabbitMQ nodes: one node, or a three-node cluster, on ports of their own.

Every node runs from ``/usr/lib/rabbitmq/bin`` as the current user (root here), with its own
config, env file, mnesia, logs and HOME (so its Erlang cookie is private to the harness): the
machine's shared broker (``rabbit@localhost`` on 5672, whose /etc/rabbitmq files would
otherwise be read) is never touched. The only shared piece is epmd, which every Erlang node
of the machine registers with.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.chaoskit.procs import kill_group, terminate, wait_until

BIN = Path("/usr/lib/rabbitmq/bin")


def make_home(root: Path) -> Path:
    """A HOME with an Erlang cookie of our own: all harness nodes and rabbitmqctl share it."""
    home = root / "rabbit-home"
    home.mkdir(parents=True, exist_ok=True)
    cookie = home / ".erlang.cookie"
    if not cookie.exists():
        cookie.write_text(secrets.token_hex(16).upper())
        cookie.chmod(0o400)
    return home


@dataclass
class RabbitNode:
    name: str
    port: int
    dist_port: int
    root: Path
    home: Path
    proc: subprocess.Popen | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.base = self.root / self.name
        (self.base / "log").mkdir(parents=True, exist_ok=True)
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq-env.conf").write_text("# the harness sets everything through the environment\n")
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
            "loopback_users.guest = true\n"
            # Small machine, several nodes: a node must not block publishers for a low disk alarm.
            "disk_free_limit.absolute = 50MB\n")
        self.log = self.base / "console.log"

    # -- names ----------------------------------------------------------------------------------

    @property
    def nodename(self) -> str:
        return f"{self.name}@localhost"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        return {**keep, "HOME": str(self.home), "ERL_EPMD_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODENAME": self.nodename, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"), "RABBITMQ_LOG_BASE": str(self.base / "log"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
                "RABBITMQ_PID_FILE": str(self.base / "pid"),
                "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.base / "advanced.config"),
                "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}"}

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, wait: bool = True) -> None:
        out = open(self.log, "ab")  # noqa: SIM115 - lives as long as the node
        # Its own session: kill -9 of the process group is a node crash (beam, erl_child_setup);
        # epmd daemonises into a session of its own and is shared, so it is never in this group.
        self.proc = subprocess.Popen([str(BIN / "rabbitmq-server")], env=self.env(), cwd=self.base, stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 120) -> None:
        wait_until(lambda: self.proc is not None and self.proc.poll() is None and self.amqp_ok(), timeout, 0.5,
                   f"RabbitMQ {self.nodename} accepting AMQP on {self.port}")

    def amqp_ok(self) -> bool:
        import pika

        try:
            conn = pika.BlockingConnection(pika.URLParameters(
                f"amqp://guest:guest@127.0.0.1:{self.port}/%2F?connection_attempts=1&socket_timeout=2"))
        except Exception:  # noqa: BLE001 - not up yet
            return False
        conn.close()
        return True

    def kill9(self) -> None:
        """The node crashes: SIGKILL to its whole process group, no shutdown of any kind."""
        if self.proc is not None:
            kill_group(self.proc)
            self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        self.ctl("stop", timeout=60, check=False)
        terminate(self.proc, grace=30)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- rabbitmqctl ----------------------------------------------------------------------------

    def ctl(self, *args: str, timeout: float = 90, check: bool = True, tool: str = "rabbitmqctl") -> str:
        res = subprocess.run([str(BIN / tool), "-n", self.nodename, *args], env=self.env(), capture_output=True,
                             text=True, timeout=timeout, check=False)
        if check and res.returncode != 0:
            raise RuntimeError(f"{tool} -n {self.nodename} {' '.join(args)} failed ({res.returncode}): "
                               f"{res.stderr.strip() or res.stdout.strip()}")
        return res.stdout

    def stop_app(self) -> None:
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.wait_ready()

    def queues(self, *columns: str) -> list[dict]:
        """``list_queues`` as dicts (JSON formatter)."""
        out = self.ctl("list_queues", "-q", "--formatter", "json", *columns, timeout=60)
        return json.loads(out or "[]")


@dataclass
class RabbitCluster:
    """Three nodes joined into one cluster; quorum queues get a member on each."""

    nodes: list[RabbitNode]

    @classmethod
    def create(cls, root: Path, home: Path, names: list[str], ports: list[int], dist_ports: list[int]) -> RabbitCluster:
        return cls([RabbitNode(n, p, d, root, home) for n, p, d in zip(names, ports, dist_ports, strict=True)])

    def start(self) -> None:
        for node in self.nodes:
            node.start(wait=False)
        for node in self.nodes:
            node.wait_ready()
        first = self.nodes[0]
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("reset")
            node.ctl("join_cluster", first.nodename)
            node.ctl("start_app")
        wait_until(lambda: len(self.running_members()) == len(self.nodes), 60, 1, "every node in the cluster")

    def running_members(self) -> list[str]:
        out = self.nodes[0].ctl("cluster_status", "--formatter", "json", timeout=60, check=False)
        try:
            return json.loads(out).get("running_nodes", [])
        except ValueError:
            return []

    @property
    def url(self) -> str:
        """The failover list kombu and Celery accept: ``amqp://…:p1//;amqp://…:p2//;…``."""
        return ";".join(n.url for n in self.nodes)

    def node(self, nodename: str) -> RabbitNode:
        return next(n for n in self.nodes if n.nodename == nodename)

    def any_running(self) -> RabbitNode:
        return next(n for n in self.nodes if n.running)

    def leaders(self, prefix: str) -> dict[str, str]:
        """Queue name → leader node, for the quorum queues whose names start with ``prefix``."""
        rows = self.any_running().queues("name", "type", "leader")
        return {r["name"]: r["leader"] for r in rows if r["name"].startswith(prefix) and r.get("type") == "quorum"}

    def members(self, prefix: str) -> dict[str, list[str]]:
        rows = self.any_running().queues("name", "type", "members")
        return {r["name"]: r["members"] for r in rows if r["name"].startswith(prefix) and r.get("type") == "quorum"}

    def stop(self) -> None:
        for node in reversed(self.nodes):
            if node.running:
                node.kill9()  # the cluster is thrown away with its directory: no need to be polite
