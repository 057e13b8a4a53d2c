"""SFTP upload speed against a real OpenSSH server on 127.0.0.1 (Debian's sshd, started here with
its own configuration and host keys, as the tests do).

    .venv/bin/python benchmarks/sftp_upload.py [--mib 20] [--rounds 3]

The hub's SFTP endpoint (``connectors.outbound.sftp.SftpSender``) uploads a ``--mib`` MiB
payload, pipelined (the writes go out without waiting for each acknowledgement), against the
same upload with pipelining off: the baseline, measured in the same run. Medians of the rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paramiko  # noqa: E402

from connectors.outbound import Payload  # noqa: E402
from connectors.outbound.sftp import SftpSender  # noqa: E402
from hub.routes.model import SftpEndpointConfig  # noqa: E402
from tests.connectors.opensshd import start_sshd  # noqa: E402


def upload(sender: SftpSender, body: bytes, n: int) -> float:
    started = time.perf_counter()
    result = sender.send(Payload(delivery_id=f"d-{n}", message_id=f"m-{n}", route="bench", endpoint="bench", seq=0,
                                 body=body, content_type="application/octet-stream", idempotency_key=f"k-{n}",
                                 document_type="blob", document_key=f"B{n}"))
    elapsed = time.perf_counter() - started
    if result.outcome != "delivered":
        raise SystemExit(result.summary())
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    body = os.urandom(args.mib * 1024 * 1024)
    with tempfile.TemporaryDirectory() as tmp:
        sshd = start_sshd(Path(tmp) / "sshd")
        try:
            os.environ.update(BENCH_SFTP_USER=sshd.user, BENCH_SFTP_KEY=str(sshd.client_key))
            config = SftpEndpointConfig.model_validate({
                "host": "127.0.0.1", "port": sshd.port, "path": str(Path(tmp) / "out"), "filename": "{document_key}.bin",
                "host_key_sha256": sshd.host_fingerprint("ed25519"),
                "auth": {"username_env": "BENCH_SFTP_USER", "private_key_env": "BENCH_SFTP_KEY"}})
            sender = SftpSender("bench", config)
            upload(sender, b"warm-up", 0)  # the session, outside the timing
            piped = [upload(sender, body, n) for n in range(1, args.rounds + 1)]
            original = paramiko.SFTPFile.set_pipelined
            paramiko.SFTPFile.set_pipelined = lambda self, pipelined=True: original(self, False)
            try:
                plain = [upload(sender, body, n) for n in range(100, 100 + args.rounds)]
            finally:
                paramiko.SFTPFile.set_pipelined = original
        finally:
            sshd.stop()
    rate = lambda seconds: args.mib / statistics.median(seconds)  # noqa: E731
    print(f"{args.mib} MiB to OpenSSH on 127.0.0.1, median of {args.rounds}:")
    print(f"  pipelined (the hub)     {statistics.median(piped):6.2f} s  {rate(piped):7.1f} MiB/s")
    print(f"  one write at a time     {statistics.median(plain):6.2f} s  {rate(plain):7.1f} MiB/s  (baseline)")
    print(f"  ratio                   {statistics.median(plain) / statistics.median(piped):6.1f} x")


if __name__ == "__main__":
    main()
