#!/usr/bin/env python3
"""Benchmark: plan/apply/update/destroy a fleet against the emulator; print requests, seconds and memory.

    python scripts/benchmark.py --count 1000 [--latency-ms 20] [--error-rate 0.05] [--commit-fail-rate 0.05]

Each phase runs the real CLI in its own process against `provisioner emulator` (also its own process) on
loopback. Requests come from the emulator's /_emulator/stats; memory is the CLI process's peak RSS.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

TOKEN = "local-dev-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_fleet(folder: Path, count: int, prompt: str) -> None:
    for old in folder.glob("*.yaml"):
        old.unlink()
    per_file = 50
    for start in range(0, count, per_file):
        docs = []
        for i in range(start, min(count, start + per_file)):
            docs.append({"apiVersion": "provisioner/v1", "kind": "Assistant", "metadata": {"name": f"bench-{i}"},
                         "spec": {"assistant_name": f"Bench {i}", "voice_id": 1 + i % 4, "language": "English",
                                  "llm_model": "gpt-4o", "calls_direction": "receive" if i % 2 else "make",
                                  "engine_type": "pipeline", "timezone": "Europe/London",
                                  "initial_message": "Hello!", "system_prompt": prompt,
                                  "variables": {"n": i}, "speech_speed": 1.1}})
        (folder / f"fleet-{start:05}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))


def run_phase(name: str, args: list[str], cwd: Path, url: str, stats: httpx.Client, expect: set[int]) -> dict:
    before = stats.get("/_emulator/stats").json()["requests"]
    env = {**os.environ, "PROVISIONER_API_TOKEN": TOKEN}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "provisioner", *args, f"--api-url={url}"], cwd=cwd, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in expect:
        sys.exit(f"{name} failed with exit {code}: {process.stderr.read().decode()[-2000:]}")
    after = stats.get("/_emulator/stats").json()["requests"]
    delta = {route: after.get(route, 0) - before.get(route, 0) for route in after}
    return {"phase": name, "seconds": seconds, "peak_mb": usage.ru_maxrss / 1024,
            "requests": sum(delta.values()), "by_route": {k: v for k, v in delta.items() if v}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--error-rate", type=float, default=0)
    parser.add_argument("--commit-fail-rate", type=float, default=0)
    options = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    emulator = subprocess.Popen([sys.executable, "-m", "provisioner", "emulator", "--port", str(port),
                                 "--latency-ms", str(options.latency_ms), "--error-rate", str(options.error_rate),
                                 "--commit-fail-rate", str(options.commit_fail_rate), "--seed", "1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        stats = httpx.Client(base_url=url, timeout=30)
        for _ in range(100):
            try:
                stats.get("/_emulator/stats")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            manifests = root / "manifests"
            manifests.mkdir()
            retries = ["--max-retries=12", "--retry-backoff=0.05s"]
            apply = ["apply", "--auto-approve", f"--parallelism={options.parallelism}", *retries]
            write_fleet(manifests, options.count, "Be helpful.")
            rows = [run_phase("plan (all new)", ["plan", *retries], root, url, stats, {0}),
                    run_phase("apply (create all)", apply, root, url, stats, {0}),
                    run_phase("plan (no changes)", ["plan", "--detailed-exitcode", *retries], root, url, stats, {0})]
            write_fleet(manifests, options.count, "Be brief.")
            rows.append(run_phase("apply (update all)", apply, root, url, stats, {0}))
            rows.append(run_phase("destroy (all)", ["destroy", "--auto-approve",
                                                    f"--parallelism={options.parallelism}", *retries],
                                  root, url, stats, {0}))
    finally:
        emulator.terminate()
        emulator.wait()

    print(f"provisioner benchmark: {options.count} assistants, parallelism {options.parallelism}, latency "
          f"{options.latency_ms} ms, error rate {options.error_rate}, commit-fail rate {options.commit_fail_rate}")
    print(f"{'phase':<22}{'seconds':>9}{'requests':>10}{'peak MB':>9}  requests by route")
    for row in rows:
        routes = ", ".join(f"{k}: {v}" for k, v in sorted(row["by_route"].items()))
        print(f"{row['phase']:<22}{row['seconds']:>9.2f}{row['requests']:>10}{row['peak_mb']:>9.1f}  {routes}")


if __name__ == "__main__":
    main()
