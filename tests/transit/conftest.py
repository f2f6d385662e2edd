"""Fixtures of the Transit suite: a real `rekey serve` (started on free loopback ports with a
fresh data directory and a random admin token, stopped at the end), hvac clients of it, and
client tokens with narrow scopes made with `rekey token create`.

Self-contained on purpose: this suite has its own venv (hvac and pytest only) and does not
import rekey_client. The binary is $REKEY_BIN, else <repo>/target/debug/rekey; a missing binary
fails the run, never skips it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import hvac
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# Settings of the parent's environment that would change the child server (REKEY_CONFIG, a
# database URL, rotation switches, an OTLP endpoint) or hvac (VAULT_TOKEN, VAULT_ADDR): the test
# decides them, not the shell.
_CHILD_ENV_PREFIXES = ("REKEY_", "KEY_ROTATION_", "OTEL_", "VAULT_")

#: The runbook's five keys, built into every server.
ENCRYPTION_KEYS = ("TOKEN_ENCRYPTION", "DATABASE_ENCRYPTION", "FILE_ENCRYPTION", "SESSION_ENCRYPTION")
HMAC_KEY = "API_SIGNATURE"
RUNBOOK_KEYS = frozenset((*ENCRYPTION_KEYS, HMAC_KEY))


def rekey_binary() -> Path:
    """$REKEY_BIN, else <repo>/target/debug/rekey."""
    return Path(os.environ.get("REKEY_BIN") or REPO_ROOT / "target" / "debug" / "rekey")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_CHILD_ENV_PREFIXES)}


@dataclass
class Server:
    """A running `rekey serve`."""

    process: subprocess.Popen[bytes]
    workdir: Path
    admin_token: str
    grpc: str  # "127.0.0.1:PORT"
    http: str  # "127.0.0.1:PORT"

    def __repr__(self) -> str:
        return f"Server(grpc={self.grpc!r}, http={self.http!r}, admin_token=<redacted>)"

    @property
    def url(self) -> str:
        """The base URL hvac is pointed at (it adds /v1/<mount>/...)."""
        return f"http://{self.http}"

    @property
    def grpc_url(self) -> str:
        return f"http://{self.grpc}"

    def log(self) -> str:
        return (self.workdir / "server.log").read_text(errors="replace")

    def client(self, token: str | None = None) -> hvac.Client:
        """An hvac client of this server with the admin token, or `token`."""
        return hvac.Client(url=self.url, token=self.admin_token if token is None else token, timeout=30)

    def create_token(self, name: str, keys: list[str], operations: list[str]) -> str:
        """A client-role token limited to `keys` and `operations`, made with the CLI."""
        args = [str(rekey_binary()), "--addr", self.grpc_url, "--json", "token", "create", "--name", name,
                "--role", "client"]  # fmt: skip
        if keys:
            args += ["--keys", ",".join(keys)]
        if operations:
            args += ["--operations", ",".join(operations)]
        env = _clean_env()
        env["REKEY_TOKEN"] = self.admin_token
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"rekey token create exited {done.returncode}: {done.stderr.strip()}")
        token: str = json.loads(done.stdout)["token"]
        return token

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_server(extra_env: dict[str, str] | None = None, ready_timeout: float = 60.0) -> Server:
    """Starts `rekey serve` on 127.0.0.1:0 (gRPC and HTTP) with a fresh data directory and a
    random admin token, and waits for the ready file it writes once serving (the bound ports)."""
    binary = rekey_binary()
    if not binary.is_file():
        pytest.fail(f"no rekey binary at {binary}: set REKEY_BIN (this suite needs a real server)")
    workdir = Path(tempfile.mkdtemp(prefix="rekey-transit-"))
    ready = workdir / "ready.json"
    args = [str(binary), "serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
            "--data-dir", str(workdir / "data"), "--ready-file", str(ready)]  # fmt: skip
    token = "adm_" + secrets.token_urlsafe(32)
    env = _clean_env()
    env["REKEY_ADMIN_TOKEN"] = token
    # Transit's keys/:name/rotate rotates at once, as Vault does: no minimum interval between
    # the manual rotations these tests make back to back.
    env["REKEY_MIN_ROTATION_INTERVAL_SECS"] = "0"
    # No scheduled rotation in the middle of a test (a run crossing 02:00 UTC).
    env["KEY_ROTATION_SCHEDULE_ENABLED"] = "false"
    env.update(extra_env or {})
    with open(workdir / "server.log", "wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    end = time.monotonic() + ready_timeout
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > end:
            process.kill()
            process.wait()
            tail = (workdir / "server.log").read_text(errors="replace")[-3000:]
            shutil.rmtree(workdir, ignore_errors=True)
            raise RuntimeError(f"rekey serve did not become ready (exit {process.returncode}):\n{tail}")
        time.sleep(0.02)
    addrs = json.loads(ready.read_text())
    if not addrs.get("http"):
        process.kill()
        process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
        raise RuntimeError(f"rekey serve's ready file names no HTTP address: {addrs}")
    return Server(process, workdir, token, addrs["grpc"], addrs["http"])


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """One server for the session. Tests that change a key (rotate, min_decryption_version) each
    use a key no other test depends on the version of; tests needing another configuration
    start their own with `server_with`."""
    s = start_server()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def server_with() -> Iterator[Callable[[dict[str, str]], Server]]:
    """Starts servers with extra environment variables; stops them after the test."""
    started: list[Server] = []

    def start(extra_env: dict[str, str]) -> Server:
        s = start_server(extra_env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def admin(server: Server) -> hvac.Client:
    """hvac with the admin token (sent as X-Vault-Token, hvac's default)."""
    return server.client()


@pytest.fixture(scope="session")
def encrypt_only_token(server: Server) -> str:
    """A client token that may only encrypt, and only under TOKEN_ENCRYPTION."""
    return server.create_token("transit encrypt-only", ["TOKEN_ENCRYPTION"], ["encrypt"])


@pytest.fixture
def encrypt_only(server: Server, encrypt_only_token: str) -> hvac.Client:
    return server.client(encrypt_only_token)


@pytest.fixture(scope="session")
def client_token(server: Server) -> str:
    """A client token with every key and operation (but not the admin role)."""
    return server.create_token("transit client", [], [])
