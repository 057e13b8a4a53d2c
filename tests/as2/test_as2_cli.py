"""``hub as2 new-identity`` and ``hub as2 certs``: a key pair openssl accepts, expiry warnings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.as2.conftest import make_expired_identity, openssl
from tests.conftest import ROOT


def hub(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub", "as2", *args], env=env, capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def test_new_identity_makes_a_pair_openssl_uses_and_certs_reports_expiry(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    made = hub("new-identity", "HOSPITAL-AS2", "--out", str(tmp_path), "--days", "20", env=env)
    assert made.returncode == 0, made.stderr
    crt, key = tmp_path / "HOSPITAL-AS2.crt", tmp_path / "HOSPITAL-AS2.key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    (tmp_path / "x.txt").write_bytes(b"hello")
    signed = openssl("cms", "-sign", "-in", tmp_path / "x.txt", "-signer", crt, "-inkey", key)
    (tmp_path / "x.smime").write_bytes(signed)
    assert openssl("cms", "-verify", "-in", tmp_path / "x.smime", "-CAfile", crt, "-purpose", "any") == b"hello"
    assert hub("new-identity", "HOSPITAL-AS2", "--out", str(tmp_path), env=env).returncode == 1  # never overwritten

    routes = tmp_path / "routes"
    routes.mkdir()
    old, _ = make_expired_identity(tmp_path, "old")
    (routes / "partners.yaml").write_text(
        "partners:\n  - {id: P-1, name: One, roles: [SUPPLIER], as2: {as2_id: ONE, certificate: %s}}\n" % old)
    env.update(HUB_ROUTES_DIR=str(routes), HUB_AS2_CERTIFICATE=str(crt), HUB_AS2_ID="HOSPITAL-AS2")
    listed = hub("certs", "--fail", env=env)
    assert listed.returncode == 1
    assert "WARNING hub HOSPITAL-AS2:" in listed.stdout and "(19 days)" in listed.stdout
    assert "EXPIRED P-1 ONE (certificate):" in listed.stdout
