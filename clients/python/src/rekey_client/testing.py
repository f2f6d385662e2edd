"""A real `rekey serve` for tests, benchmarks and examples: started on free loopback ports with a
fresh data directory and a random admin token, stopped at the end. Never a mock: what a test sees
is what the server answers.

    with RekeyServer.start() as server:
        client = Client(server.grpc_url, token=server.admin_token)

From the command line, run a command against a fresh server (REKEY_ADDR and REKEY_TOKEN set for
it; the exit status is the command's):

    python -m rekey_client.testing run -- python examples/python/records.py demo

The binary is $REKEY_BIN, else <repo>/target/debug/rekey.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType

__all__ = ["RekeyServer", "default_binary"]

_REPO_ROOT = Path(__file__).resolve().parents[4]
# Settings of the parent's environment that would change the child server (REKEY_CONFIG, a
# database URL, rotation switches, an OTLP endpoint): the test decides them, not the shell.
_CHILD_ENV_PREFIXES = ("REKEY_", "KEY_ROTATION_", "OTEL_")


def default_binary() -> Path:
    """$REKEY_BIN, else <repo>/target/debug/rekey."""
    return Path(os.environ.get("REKEY_BIN") or _REPO_ROOT / "target" / "debug" / "rekey")


class RekeyServer:
    """A running `rekey serve`; use `RekeyServer.start()` (a context manager)."""

    def __init__(self, process: subprocess.Popen[bytes], workdir: Path, owns_workdir: bool, admin_token: str,
                 grpc: str, http: str) -> None:  # fmt: skip
        self._process = process
        self.workdir = workdir
        self._owns_workdir = owns_workdir
        self.admin_token = admin_token
        #: "127.0.0.1:PORT" of the gRPC and the HTTP listener.
        self.grpc = grpc
        self.http = http

    def __repr__(self) -> str:
        return f"RekeyServer(grpc={self.grpc!r}, http={self.http!r}, admin_token=<redacted>)"

    @property
    def grpc_url(self) -> str:
        return f"http://{self.grpc}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    @classmethod
    def start(
        cls,
        *,
        binary: Path | None = None,
        config_toml: str | None = None,
        workdir: Path | None = None,
        ready_timeout: float = 60.0,
    ) -> RekeyServer:
        """Starts a server, waits until it has written its ready file, and returns it.
        `config_toml` is written to a file and passed with --config."""
        binary = binary or default_binary()
        if not binary.is_file():
            raise FileNotFoundError(f"no rekey binary at {binary}: set REKEY_BIN")
        owns = workdir is None
        workdir = Path(tempfile.mkdtemp(prefix="rekey-test-")) if workdir is None else workdir
        workdir.mkdir(parents=True, exist_ok=True)
        ready = workdir / "ready.json"
        args = [str(binary), "serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                "--data-dir", str(workdir / "data"), "--ready-file", str(ready)]  # fmt: skip
        if config_toml is not None:
            config = workdir / "rekey.toml"
            config.write_text(config_toml)
            args += ["--config", str(config)]
        token = "adm_" + secrets.token_urlsafe(32)
        env = {k: v for k, v in os.environ.items() if not k.startswith(_CHILD_ENV_PREFIXES)}
        env["REKEY_ADMIN_TOKEN"] = token
        with open(workdir / "server.log", "wb") as log:
            process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
        end = time.monotonic() + ready_timeout
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > end:
                process.kill()
                process.wait()
                tail = (workdir / "server.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"rekey serve did not become ready (exit {process.returncode}):\n{tail}")
            time.sleep(0.02)
        addrs = json.loads(ready.read_text())
        return cls(process, workdir, owns, token, addrs["grpc"], addrs["http"])

    def metrics(self) -> str:
        """The Prometheus text of GET /metrics."""
        with urllib.request.urlopen(f"http://{self.http}/metrics", timeout=10) as answer:
            text: str = answer.read().decode()
            return text

    def rpc_count(self, method: str) -> float:
        """How many calls of `method` ("rekey.v1.KeyService/GenerateDataKey") the server has
        counted: the sum of the `rekey_rpc_requests_total` samples labelled with it."""
        label = f'method="{method}"'
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith("rekey_rpc_requests_total{") and label in line:
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> RekeyServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rekey_client.testing")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a command against a fresh server (REKEY_ADDR, REKEY_TOKEN set)")
    run.add_argument("argv", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not command:
        parser.error("give the command to run after --")
    with RekeyServer.start() as server:
        env = dict(os.environ, REKEY_ADDR=server.grpc_url, REKEY_TOKEN=server.admin_token)
        return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main())
