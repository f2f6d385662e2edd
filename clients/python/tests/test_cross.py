"""The cross-language driver, run as the orchestrator runs it (a subprocess with REKEY_ADDR and
REKEY_TOKEN): what `encrypt` writes, `decrypt` opens; a damaged file makes it exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rekey_client.testing import RekeyServer

SRC = Path(__file__).resolve().parents[1] / "src"


def driver(server: RekeyServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, REKEY_ADDR=server.grpc_url, REKEY_TOKEN=server.admin_token,
               PYTHONPATH=str(SRC))  # fmt: skip
    return subprocess.run([sys.executable, "-m", "rekey_client._cross", *args], env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def test_encrypt_then_decrypt_and_a_damaged_value_fails(server: RekeyServer, tmp_path: Path) -> None:
    out = tmp_path / "python.json"
    made = driver(server, "encrypt", str(out))
    assert made.returncode == 0, made.stderr
    values = json.loads(out.read_text())["values"]
    assert len(values) == 20
    assert {len(v["plaintext_hex"]) // 2 for v in values} >= {0, 1, 1024, 100_000}
    opened = driver(server, "decrypt", str(out))
    assert opened.returncode == 0, opened.stdout + opened.stderr

    damaged = json.loads(out.read_text())
    value = bytearray.fromhex(damaged["values"][3]["value_hex"])
    value[-1] ^= 1
    damaged["values"][3]["value_hex"] = value.hex()
    bad = tmp_path / "damaged.json"
    bad.write_text(json.dumps(damaged))
    refused = driver(server, "decrypt", str(bad))
    assert refused.returncode == 1
    assert "value 3" in refused.stdout and "AuthenticationFailedError" in refused.stdout
