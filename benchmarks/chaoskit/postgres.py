"""A private PostgreSQL 15 cluster (initdb in the harness's temp dir, run as the postgres
user), so a scenario may restart it immediately or stop it without touching the shared one."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmarks.chaoskit.procs import wait_until

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    cmd = list(args) if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({res.returncode}): {res.stderr.strip() or res.stdout.strip()}")
    return res


@dataclass
class PgCluster:
    root: Path
    port: int

    def __post_init__(self) -> None:
        self.data = self.root / "pgdata"
        self.log = self.root / "postgres.log"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            for parent in self.root.parents:  # postgres must be able to reach its directory
                if str(parent).startswith(("/tmp/", "/var/tmp/")) or parent == Path("/tmp"):
                    parent.chmod(parent.stat().st_mode | 0o711)
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
                     "-E", "UTF8", "--locale", "C.UTF-8")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.root}'\nmax_connections = 200\n"
                       "shared_buffers = 64MB\n")

    def ctl(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        return _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), *args,
                            timeout=timeout, check=check)

    def start(self) -> None:
        self.ctl("start", "-w", "-t", "60")
        wait_until(self.ready, 60, 0.3, f"PostgreSQL on {self.port}")

    def stop(self, mode: str = "immediate") -> None:
        self.ctl("stop", "-m", mode, "-w", "-t", "60", check=False)

    def restart_immediate(self) -> None:
        """Crash-like: no checkpoint, every backend killed; the restart replays the WAL."""
        self.ctl("restart", "-m", "immediate", "-w", "-t", "60")
        wait_until(self.ready, 60, 0.3, f"PostgreSQL on {self.port}")

    def running(self) -> bool:
        return self.ctl("status", check=False).returncode == 0

    def ready(self) -> bool:
        res = subprocess.run([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-t", "2"],
                             capture_output=True, timeout=10, check=False)
        return res.returncode == 0

    def sql(self, statement: str, database: str = "postgres") -> str:
        res = subprocess.run([str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                              "-d", database, "-At", "-v", "ON_ERROR_STOP=1", "-c", statement],
                             capture_output=True, text=True, timeout=120, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"psql {statement!r}: {res.stderr.strip()}")
        return res.stdout

    def create_database(self, name: str) -> str:
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        if self.data.exists():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
