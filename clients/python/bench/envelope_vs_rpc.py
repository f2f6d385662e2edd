#!/usr/bin/env python3
"""Local envelope encryption of 1 KiB (warm cache, long max_age) against the same client's plain
Encrypt rpc of 1 KiB, in one run against one `rekey serve` started here ($REKEY_BIN):

- envelope: Envelope.encrypt, sequential, one thread (no call to the server once warm);
- rpc sequential: Client.encrypt, one call at a time;
- rpc concurrent: AsyncClient.encrypt with 32 calls in flight (fairer to the rpc: it overlaps
  round trips the way a busy service would).

Prints calls/s of each, the ratios, and one JSON line. Goal: envelope >= 10x the rpc.

    REKEY_BIN=/path/to/rekey python bench/envelope_vs_rpc.py [--seconds 3] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time

from rekey_client import AsyncClient, CachePolicy, Client, proto
from rekey_client.testing import RekeyServer

KEY = "TOKEN_ENCRYPTION"
PLAINTEXT = os.urandom(1024)
AD = b"bench row"


def rate(run: float, count: int) -> float:
    return count / run


def bench_envelope(client: Client, seconds: float) -> float:
    envelope = client.envelope(KEY, CachePolicy(max_age=3600))
    envelope.warm()
    for _ in range(1000):  # warm the interpreter's caches too
        envelope.encrypt(PLAINTEXT, AD)
    count, start = 0, time.perf_counter()
    end = start + seconds
    while True:
        for _ in range(1000):
            envelope.encrypt(PLAINTEXT, AD)
        count += 1000
        now = time.perf_counter()
        if now >= end:
            assert envelope.stats().encrypt_misses == 1, "one data key for the whole run"
            return rate(now - start, count)


def bench_rpc_sequential(client: Client, seconds: float) -> float:
    request = proto.EncryptRequest(key_name=KEY, plaintext=PLAINTEXT, associated_data=AD)
    for _ in range(50):
        client.encrypt(request)
    count, start = 0, time.perf_counter()
    end = start + seconds
    while (now := time.perf_counter()) < end:
        client.encrypt(request)
        count += 1
    return rate(now - start, count)


async def bench_rpc_concurrent(server: RekeyServer, seconds: float, concurrency: int) -> float:
    request = proto.EncryptRequest(key_name=KEY, plaintext=PLAINTEXT, associated_data=AD)
    async with AsyncClient(server.grpc_url, token=server.admin_token) as client:
        await asyncio.gather(*(client.encrypt(request) for _ in range(concurrency)))
        count = 0
        start = time.perf_counter()
        end = start + seconds

        async def worker() -> None:
            nonlocal count
            while time.perf_counter() < end:
                await client.encrypt(request)
                count += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return rate(time.perf_counter() - start, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each measurement")
    parser.add_argument("--concurrency", type=int, default=32, help="rpc calls in flight for the concurrent run")
    args = parser.parse_args()
    with RekeyServer.start() as server, Client(server.grpc_url, token=server.admin_token) as client:
        envelope = bench_envelope(client, args.seconds)
        sequential = bench_rpc_sequential(client, args.seconds)
        concurrent = asyncio.run(bench_rpc_concurrent(server, args.seconds, args.concurrency))
    print(f"envelope encrypt, 1 KiB, warm cache:        {envelope:12,.0f} calls/s")
    print(f"Encrypt rpc, 1 KiB, sequential:             {sequential:12,.0f} calls/s")
    print(f"Encrypt rpc, 1 KiB, {args.concurrency} in flight:            {concurrent:12,.0f} calls/s")
    print(f"ratio envelope / rpc sequential:            {envelope / sequential:12.1f} x")
    print(f"ratio envelope / rpc {args.concurrency} in flight:           {envelope / concurrent:12.1f} x")
    print(
        json.dumps(
            {
                "bench": "python envelope_vs_rpc",
                "plaintext_bytes": len(PLAINTEXT),
                "seconds_per_measurement": args.seconds,
                "envelope_per_s": round(envelope),
                "rpc_sequential_per_s": round(sequential),
                "rpc_concurrent_per_s": round(concurrent),
                "concurrency": args.concurrency,
                "ratio_vs_sequential": round(envelope / sequential, 1),
                "ratio_vs_concurrent": round(envelope / concurrent, 1),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
