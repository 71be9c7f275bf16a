#!/usr/bin/env python3
"""Benchmark: plan/apply/update/destroy a fleet against the emulator; print requests, seconds and memory.

    python scripts/benchmark.py --count 1000 [--latency-ms 20] [--error-rate 0.05] [--commit-fail-rate 0.05]
    PROVISIONER_PG_DSN=... python scripts/benchmark.py --count 10000 --latency-ms 20 --backend postgres
    python scripts/benchmark.py --count 1000 --phases create --rate-limit 1000/60s,200/10s
    python scripts/benchmark.py --count 3000 --latency-ms 20 --fleet full --busy 2
    python scripts/benchmark.py --count 10000 --latency-ms 20 --graph
    python scripts/benchmark.py --count 10000 --latency-ms 20 --cli-from ../an-older-checkout   # two versions
    python scripts/benchmark.py --count 5000 --fleet full --phases saved                         # a saved plan

Each phase runs the real CLI in its own process against `provisioner emulator` (also its own process) on
loopback. Requests come from the emulator's /_emulator/stats; memory is the CLI process's peak RSS. For the
phases that write, the network floor is count / parallelism x latency (each change needs one request of
`--latency-ms`, `--parallelism` at a time): the ratio to it is what the provisioner itself costs. With a
latency (and no rate limit), a bare http.client loop first measures the emulator's real answer time at that
parallelism on this machine, and the floor it allows is printed too.
The state store is chosen with --backend (sqlite: a file in the run's folder; postgres: $PROVISIONER_PG_DSN,
with a project of its own per run). The no-change plan's floor is its requests / parallelism, rounded up, x
latency. With --rate-limit the emulator enforces those windows and the client paces itself to the same budget:
the table then shows the 429s and how much of the budget's sustained rate the phase used.

CPU is what bounds the provisioner on a slow, shared core, so every phase also shows the CLI's CPU per change
(per manifest for the plans), and the run starts and ends with a machine-speed figure: the seconds a plain
Python loop of 10 million additions takes here, so that figures from different machines can be compared.
`--fleet full` sets every optional v1 field, a prompt of dozens of lines, variables and a post-call schema
(a team's manifests) instead of the small default ones. `--busy N` runs N busy loops beside the benchmark for
its whole run, to see it on cores that are shared.

`--phases saved` makes the fleet the reviewed-plan way (docs/ci.md): `plan --out` into a file, `show` of the file,
then `apply FILE` creates it (in place of `apply --auto-approve`); the file's size is printed, per change too.

`--graph` makes the fleet a graph of every kind instead of assistants alone: of `--count` objects, 200
mid-call tools, 50 knowledge bases holding 200 website documents, 20 folders and 50 labels (scaled down below
10,000), the rest assistants that reference them by address (two tools, a knowledge base, a folder, two
labels each), in the v2 dialect (the one with folders, labels and knowledge bases). A graph's write floor is
its dependency depth in round trips (tools, folders, labels and knowledge bases; documents; assistants) plus
count / parallelism of them; documents are processed at once by the emulator (`--document-delay-ms 0`).
"""
from __future__ import annotations

import argparse
import compileall
import http.client
import threading
import os
import re
import secrets
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


def small_spec(i: int, prompt: str) -> dict:
    return {"assistant_name": f"Bench {i}", "voice_id": 1 + i % 4, "language": "English",
            "llm_model": "gpt-4o", "calls_direction": "receive" if i % 2 else "make",
            "engine_type": "pipeline", "timezone": "Europe/London",
            "initial_message": "Hello!", "system_prompt": prompt,
            "variables": {"n": i}, "speech_speed": 1.1}


def full_spec(i: int, prompt: str) -> dict:
    """A team's manifest: every optional field of the default (v1) dialect set, a prompt of dozens of lines,
    variables and a post-call schema."""
    lines = [f"{prompt} Rule {n}: answer the caller's question about order {i}-{n} in one or two sentences."
             for n in range(40)]
    return {**small_spec(i, "\n".join(lines) + "\n"),
            "initial_message": f"Hello, this is the assistant of branch {i}. How can I help you today?",
            "endpoint_type": "ai", "endpoint_sensitivity": 1.5, "interrupt_sensitivity": 2.5,
            "ambient_sound_volume": 0.3, "post_call_evaluation": False, "send_webhook_only_on_completed": False,
            "include_recording_in_webhook": False, "is_webhook_active": True,
            "webhook_url": f"https://hooks.example.com/calls/{i}", "use_min_interrupt_words": True,
            "min_interrupt_words": 3,
            "variables": {"n": i, "branch": f"Branch {i}", "city": "London", "vip": i % 3 == 0, "limit": 2.5},
            "post_call_schema": [
                {"name": "resolved", "type": "bool", "description": "Whether the question was answered."},
                {"name": "order_id", "type": "string", "description": "The order the caller asked about."},
                {"name": "satisfaction", "type": "number", "description": "How satisfied the caller was, 1-5."},
                {"name": "callback", "type": "bool", "description": "Whether the caller wants a call back."}],
            "end_call_tool": {"description": "End the call once the caller says goodbye."},
            "llm_temperature": 0.3, "voice_stability": 0.6, "voice_similarity": 0.8,
            "allow_interruptions": False, "filler_audios": True, "end_call_on_voicemail": False,
            "noise_cancellation": False, "record_call": True, "re_engagement_interval": 45,
            "max_call_duration": 900, "max_silence_duration": 60, "who_speaks_first": "Customer"}


FLEETS = {"small": small_spec, "full": full_spec}

# The mix `--graph` asks for in 10,000 objects (scaled down for smaller counts), and the graph's depth: tools,
# folders, labels and knowledge bases first, then documents (in their knowledge base), then the assistants.
GRAPH_MIX = {"tool": 200, "knowledgebase": 50, "document": 200, "folder": 20, "label": 50}
GRAPH_DEPTH = 3


def graph_mix(count: int) -> dict[str, int]:
    """How many objects of each kind a graph of `count` objects has; the rest are assistants."""
    scale = min(1.0, count / 10_000)
    mix = {kind: max(1, round(n * scale)) for kind, n in GRAPH_MIX.items()}
    mix["assistant"] = count - sum(mix.values())
    if mix["assistant"] < 1:
        sys.exit(f"--graph needs a larger --count than {count}")
    return mix


def letters(n: int) -> str:
    """0 -> a, 25 -> z, 26 -> ba: tool names take lowercase letters and underscores only."""
    text = ""
    while True:
        n, digit = divmod(n, 26)
        text = chr(ord("a") + digit) + text
        if not n:
            return text


def write_graph(folder: Path, count: int, prompt: str, fleet: str = "small") -> dict[str, int]:
    """A graph of every kind, assistants referencing the others by address; the mix written."""
    for old in folder.glob("*.yaml"):
        old.unlink()
    mix = graph_mix(count)

    def manifest(kind: str, name: str, spec: dict) -> dict:
        return {"apiVersion": "provisioner/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}

    tools = [manifest("Tool", f"tool-{i}", {
        "name": f"bench_{letters(i)}", "description": f"Look up order details, variant {i}.",
        "endpoint": f"https://api.example.com/orders/{{order_id}}/v{i}", "method": "GET",
        "schema": [{"name": "order_id", "type": "string", "description": "The caller's order number."}]})
        for i in range(mix["tool"])]
    per_kb = [mix["document"] // mix["knowledgebase"] + (k < mix["document"] % mix["knowledgebase"])
              for k in range(mix["knowledgebase"])]
    bases = [manifest("KnowledgeBase", f"kb-{k}", {
        "name": f"Bench knowledge {k}", "description": "Pages callers ask about.",
        "documents": [{"name": f"Page {j}", "type": "website", "url": f"https://example.com/kb/{k}/{j}"}
                      for j in range(per_kb[k])]})
        for k in range(mix["knowledgebase"])]
    folders = [manifest("Folder", f"folder-{i}", {"name": f"Bench folder {i}"}) for i in range(mix["folder"])]
    labels = [manifest("Label", f"label-{i}", {"name": f"Bench label {i}"}) for i in range(mix["label"])]
    for name, docs in (("tools", tools), ("knowledge", bases), ("folders", folders), ("labels", labels)):
        (folder / f"graph-{name}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    spec = FLEETS[fleet]
    per_file = 50
    for start in range(0, mix["assistant"], per_file):
        docs = []
        for i in range(start, min(mix["assistant"], start + per_file)):
            references = {
                "tool_ids": sorted({f"tool.tool-{i % mix['tool']}", f"tool.tool-{(i * 7 + 1) % mix['tool']}"}),
                "knowledgebase_id": f"knowledgebase.kb-{i % mix['knowledgebase']}",
                "knowledgebase_mode": "function_call",
                "folder_id": f"folder.folder-{i % mix['folder']}",
                "label_ids": sorted({f"label.label-{i % mix['label']}", f"label.label-{(i * 3 + 1) % mix['label']}"})}
            docs.append(manifest("Assistant", f"bench-{i}", {**spec(i, prompt), **references}))
        (folder / f"fleet-{start:05}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return mix


def write_fleet(folder: Path, count: int, prompt: str, fleet: str = "small") -> None:
    for old in folder.glob("*.yaml"):
        old.unlink()
    per_file = 50
    spec = FLEETS[fleet]
    for start in range(0, count, per_file):
        docs = [{"apiVersion": "provisioner/v1", "kind": "Assistant", "metadata": {"name": f"bench-{i}"},
                 "spec": spec(i, prompt)} for i in range(start, min(count, start + per_file))]
        (folder / f"fleet-{start:05}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))


LOOP = "import time; t = time.perf_counter(); n = 0\nfor i in range(10_000_000): n += i\nprint(time.perf_counter() - t)"


def machine_speed() -> float:
    """Seconds a plain Python loop of 10 million additions takes, in a process of its own: the machine's
    speed for pure-Python work as the benchmark sees it (what a slower or shared core makes larger)."""
    return float(subprocess.run([sys.executable, "-c", LOOP], capture_output=True, text=True, check=True).stdout)


def start_busy_loops(count: int) -> list[subprocess.Popen]:
    """`count` processes that spin until killed: cores shared with other work, as on a CI runner."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process used so far (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def run_phase(name: str, args: list[str], cwd: Path, url: str | None, stats: httpx.Client, expect: set[int],
              env: dict[str, str], emulator_pid: int) -> dict:
    """One CLI run, measured; `url` None for a command that reads no platform (`show`)."""
    before_stats = stats.get("/_emulator/stats").json()
    before = before_stats["requests"]
    emulator_before = process_cpu(emulator_pid)
    started = time.perf_counter()
    api = [f"--api-url={url}"] if url else []
    process = subprocess.Popen([sys.executable, "-m", "provisioner", *args, *api], cwd=cwd, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in expect:
        sys.exit(f"{name} failed with exit {code}: {process.stderr.read().decode()[-2000:]}")
    after_stats = stats.get("/_emulator/stats").json()
    after = after_stats["requests"]
    delta = {route: after.get(route, 0) - before.get(route, 0) for route in after}
    return {"phase": name, "seconds": seconds, "peak_mb": usage.ru_maxrss / 1024,
            "rate_limited": after_stats.get("rate_limited", 0) - before_stats.get("rate_limited", 0),
            "cpu": usage.ru_utime + usage.ru_stime, "emulator_cpu": process_cpu(emulator_pid) - emulator_before,
            "requests": sum(delta.values()), "by_route": {k: v for k, v in delta.items() if v}}


def start_emulator(options) -> tuple[subprocess.Popen, str, httpx.Client]:
    """Start `provisioner emulator` on a free port: (process, API base URL, client for /_emulator/*).

    The API base is the first URL the emulator prints (it may serve the API under a path such as /api);
    /_emulator/* is at the server's root. An emulator that takes --admin-token gets a random one, sent as a
    bearer token on the /_emulator/* requests (adapt admin_headers if that changes)."""
    port = options.port or free_port()
    command = [sys.executable, "-m", "provisioner", "emulator", "--port", str(port),
               "--latency-ms", str(options.latency_ms), "--error-rate", str(options.error_rate),
               "--commit-fail-rate", str(options.commit_fail_rate), "--seed", "1",
               "--rate-limit", options.rate_limit]
    if options.graph:
        command += ["--document-delay-ms", "0"]
    help_text = subprocess.run([sys.executable, "-m", "provisioner", "emulator", "--help"], capture_output=True,
                               text=True).stdout
    admin_token = secrets.token_urlsafe(16) if "--admin-token" in help_text else None
    if admin_token:
        command += ["--admin-token", admin_token]
    emulator = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    root = f"http://127.0.0.1:{port}"
    api_url = root
    line = emulator.stdout.readline()  # e.g. "Platform emulator on http://127.0.0.1:8787 (...)"
    urls = [u.rstrip(".,;)") for u in re.findall(r"https?://\S+", line)]
    if urls:
        api_url = next((u for u in urls if "/api" in u), urls[0])
    stats = httpx.Client(base_url=root, timeout=30, headers=admin_headers(admin_token))
    for _ in range(100):
        try:
            stats.get("/_emulator/stats").raise_for_status()
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        emulator.terminate()
        sys.exit(f"the emulator did not answer at {root}/_emulator/stats")
    return emulator, api_url, stats


def probe_answer_time(api_url: str, parallelism: int, requests: int) -> float:
    """Seconds per request of a bare http.client loop, `parallelism` at a time, against the emulator: what
    the emulator and the machine allow a client that costs nothing (the floor as measured, not as nominal)."""
    target = httpx.URL(api_url)
    path = target.path.rstrip("/") + "/user/assistants/languages"
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}

    def loop(count: int) -> None:
        connection = http.client.HTTPConnection(target.host, target.port)
        for _ in range(count):
            connection.request("GET", path, headers=headers)
            connection.getresponse().read()
        connection.close()

    threads = [threading.Thread(target=loop, args=(requests // parallelism,)) for _ in range(parallelism)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (time.perf_counter() - started) / (requests // parallelism)


def admin_headers(admin_token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token}"} if admin_token else {}


POLICY_RULES = [  # realistic rules (the starter pack's kinds of checks), varied by a number so none are equal
    "object.spec.max_call_duration == null || object.spec.max_call_duration <= {n}",
    "object.spec.webhook_url == null || object.spec.webhook_url.matches('^https://([a-z0-9-]+[.])*example[.]com/')",
    "workspace != 'prod' || object.spec.post_call_evaluation != false || {n} < 0",
    "object.spec.post_call_schema == null || object.spec.post_call_schema.all(f, size(f.name) < {n})",
    "!('team' in object.metadata.labels) || object.metadata.labels.team != 'x{n}'",
    "object.spec.record_call != true || type(object.spec.phone_number_id) != string"
    " || !object.spec.phone_number_id.startsWith('+{n}')",
]


def _cpu_with_children() -> float:
    """This process's CPU and its waited-for children's: the policy check evaluates in a child it forks."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def policies_benchmark(count: int, rule_count: int, fleet: str) -> None:
    """`--policies N`: the cost of checking N rules over `count` manifests (offline: no platform, no state)."""
    from provisioner.workflow.manifests import validate
    from provisioner.workflow.policies import check_offline, load_rules

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "manifests").mkdir()
        write_fleet(root / "manifests", count, "You are a helpful assistant.", fleet)
        rules = [{"name": f"r{i}", "expression": POLICY_RULES[i % len(POLICY_RULES)].format(n=900 + i),
                  "message": f"rule {i}", "severity": "warn" if i % 2 else "deny"} for i in range(rule_count)]
        (root / "policies").mkdir()
        (root / "policies" / "bench.yaml").write_text(yaml.safe_dump(
            {"apiVersion": "provisioner/v1", "kind": "Policy", "metadata": {"name": "bench"},
             "spec": {"match": {"kinds": ["Assistant"]}, "rules": rules}}))
        manifests = validate([str(root / "manifests")])
        started = time.perf_counter()
        compiled = load_rules([str(root / "policies")])
        loaded = time.perf_counter() - started
        cpu, started = _cpu_with_children(), time.perf_counter()
        report = check_offline(compiled, manifests, "prod")
        elapsed, cpu = time.perf_counter() - started, _cpu_with_children() - cpu
    evaluations = sum(report.checked.values())
    print(f"policies: {len(compiled)} rules over {len(manifests)} manifests ({fleet} fleet): "
          f"{evaluations} evaluations in {elapsed:.2f} s ({cpu:.2f} s CPU; {elapsed / max(evaluations, 1) * 1e6:.2f} "
          f"us each); loading and compiling the rules {loaded:.2f} s; {len(report.violations)} violations, "
          f"{len(report.errors)} errors")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--error-rate", type=float, default=0)
    parser.add_argument("--commit-fail-rate", type=float, default=0)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite",
                        help="state store (postgres: connection string from $PROVISIONER_PG_DSN)")
    parser.add_argument("--rate-limit", default="off",
                        help="windows the emulator enforces and the client paces to, e.g. 1000/60s,200/10s")
    parser.add_argument("--phases", default="plan,create,noop,update,verify,destroy",
                        help="comma-separated subset of: plan,create,noop,update,verify,destroy,saved (verify: the "
                             "update again with --no-verify, to report what verify after apply costs; saved: the "
                             "create from a saved plan, made by plan --out and read by show first)")
    parser.add_argument("--fleet", choices=sorted(FLEETS), default="small",
                        help="small manifests (the required fields and a few more) or full ones (every optional "
                             "v1 field, a prompt of 40 lines, variables, a post-call schema)")
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="run N busy loops beside the benchmark (cores shared with other work)")
    parser.add_argument("--graph", action="store_true",
                        help="a graph of every kind (tools, knowledge bases and documents, folders, labels; the "
                             "rest assistants referencing them) instead of assistants alone, in the v2 dialect")
    parser.add_argument("--cli-from", metavar="DIR",
                        help="run the CLI from another checkout of the provisioner (its folder, as PYTHONPATH) against "
                             "this one's emulator: two versions compared on the same platform")
    parser.add_argument("--port", type=int, default=0,
                        help="the emulator's port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--policies", type=int, default=0, metavar="N",
                        help="measure only the policy check: N rules (CEL) over --count manifests, offline")
    options = parser.parse_args()
    if options.policies:
        policies_benchmark(options.count, options.policies, options.fleet)
        return
    phases = set(options.phases.split(","))
    # The client's rate budget is off: the benchmark measures the provisioner, not the platform's documented limits.
    env = {**os.environ, "PROVISIONER_API_TOKEN": TOKEN, "PROVISIONER_RATE_LIMIT": options.rate_limit,
           "PROVISIONER_BACKEND": options.backend,
           "PROVISIONER_PROJECT": f"benchmark-{secrets.token_hex(6)}"}
    if options.graph:
        env["PROVISIONER_API_DIALECT"] = "v2"
    if options.cli_from:
        env["PYTHONPATH"] = str(Path(options.cli_from).resolve())
        compileall.compile_dir(Path(env["PYTHONPATH"]) / "provisioner", quiet=1)
    if options.backend == "postgres" and not os.environ.get("PROVISIONER_PG_DSN"):
        sys.exit("--backend postgres needs $PROVISIONER_PG_DSN")

    # An installed package has its bytecode compiled (pip does it); a checkout run with PYTHONDONTWRITEBYTECODE
    # would compile every module again in every phase, which no user pays.
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "provisioner", quiet=1)
    busy = start_busy_loops(options.busy)
    try:
        speed_before = machine_speed()
        emulator, url, stats = start_emulator(options)
        try:
            # Not under a rate limit: the probe would spend the budget the phases are measured against.
            probe_requests = 100 * options.parallelism
            answer_time = (probe_answer_time(url, options.parallelism, probe_requests)
                           if options.latency_ms and options.rate_limit == "off" else 0.0)
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                manifests = root / "manifests"
                manifests.mkdir()
                retries = ["--max-retries=12", "--retry-backoff=0.05s"]
                apply = ["apply", "--auto-approve", f"--parallelism={options.parallelism}", *retries]
                write = write_graph if options.graph else write_fleet
                mix = write(manifests, options.count, "Be helpful.", options.fleet)
                rows = []
                if "plan" in phases:
                    rows.append(run_phase("plan (all new)", ["plan", *retries], root, url, stats, {0}, env,
                                          emulator.pid))
                if "saved" in phases:
                    saved_size = save_plan(rows, root, url, stats, env, emulator.pid, retries)
                    rows.append(run_phase("apply FILE (create all)", [*apply, "saved.plan"], root, url, stats, {0},
                                          env, emulator.pid) | {"writes": True})
                else:
                    rows.append(run_phase("apply (create all)", apply, root, url, stats, {0}, env, emulator.pid)
                                | {"writes": True})
                if "noop" in phases:
                    rows.append(run_phase("plan (no changes)", ["plan", "--detailed-exitcode", *retries], root, url,
                                          stats, {0}, env, emulator.pid) | {"reads": True})
                if "update" in phases:
                    write(manifests, options.count, "Be brief.", options.fleet)
                    rows.append(run_phase("apply (update all)", apply, root, url, stats, {0}, env, emulator.pid)
                                | {"writes": True})
                if "update" in phases and "verify" in phases:
                    # The same update without verify after apply: the difference is what verify costs.
                    write(manifests, options.count, "Be quick.", options.fleet)
                    rows.append(run_phase("apply (no verify)", [*apply, "--no-verify"], root, url, stats, {0}, env,
                                          emulator.pid) | {"writes": True})
                if "destroy" in phases:
                    rows.append(run_phase("destroy (all)", ["destroy", "--auto-approve",
                                                            f"--parallelism={options.parallelism}", *retries],
                                          root, url, stats, {0}, env, emulator.pid) | {"writes": True})
            speed_after = machine_speed()
        finally:
            emulator.terminate()
            emulator.wait()
    finally:
        for loop in busy:
            loop.kill()
            loop.wait()

    depth = GRAPH_DEPTH if options.graph else 0
    floor = (depth + options.count / options.parallelism) * options.latency_ms / 1000
    what = ("objects (" + ", ".join(f"{n} {kind}s" for kind, n in mix.items()) + ")") if options.graph \
        else "assistants"
    print(f"provisioner benchmark: {options.count} {what}, parallelism {options.parallelism}, latency "
          f"{options.latency_ms} ms, error rate {options.error_rate}, commit-fail rate {options.commit_fail_rate}, "
          f"state backend {options.backend}, rate limit {options.rate_limit}, fleet {options.fleet}, "
          f"busy loops beside it {options.busy}" + (f", CLI from {options.cli_from}" if options.cli_from else ""))
    print(f"machine speed (a plain Python loop of 10 million additions): {speed_before:.2f} s before the phases, "
          f"{speed_after:.2f} s after")
    print(f"network floor of a phase that writes every object: ({depth} + {options.count}/{options.parallelism}) x "
          f"{options.latency_ms} ms = {floor:.2f} s")
    if answer_time:
        print(f"the emulator's answer time, {options.parallelism} at a time (bare http.client, {probe_requests} "
              f"requests): {answer_time * 1000:.2f} ms, so a floor as measured of {options.count}/"
              f"{options.parallelism} x {answer_time * 1000:.2f} ms = "
              f"{options.count / options.parallelism * answer_time:.2f} s")
    print(f"{'phase':<22}{'seconds':>9}{'floor s':>9}{'x floor':>9}{'CPU s':>7}{'CPU ms/1':>9}{'emu CPU':>8}"
          f"{'requests':>10}{'429s':>6}{'peak MB':>9}  requests by route")
    for row in rows:
        routes = ", ".join(f"{k}: {v}" for k, v in sorted(row["by_route"].items()))
        phase_floor = floor if row.get("writes") else (
            -(-row["requests"] // options.parallelism) * options.latency_ms / 1000 if row.get("reads") else 0)
        ratio = f"{row['seconds'] / phase_floor:.2f}" if phase_floor else "-"
        # CPU per change for the phases that write every assistant, per manifest for the plans.
        per_item = row["cpu"] / options.count * 1000 if options.count else 0.0
        print(f"{row['phase']:<22}{row['seconds']:>9.2f}{phase_floor:>9.2f}{ratio:>9}{row['cpu']:>7.1f}"
              f"{per_item:>9.2f}{row['emulator_cpu']:>8.1f}{row['requests']:>10}{row['rate_limited']:>6}{row['peak_mb']:>9.1f}"
              f"  {routes}")
    print("CPU ms/1: the CLI's CPU (user + system) per assistant: per change for apply and destroy, per "
          "manifest for the plans")
    verify_cost(rows)
    if "saved" in phases:
        print(f"saved plan: {saved_size:,} bytes, {saved_size / max(options.count, 1):,.0f} per change")
    windows = [(int(n), float(t)) for n, t in re.findall(r"(\d+)\s*/\s*(\d+(?:\.\d+)?)s", options.rate_limit)]
    if windows:
        sustained = min(n / t for n, t in windows)
        for row in rows:
            rate = row["requests"] / row["seconds"]
            print(f"{row['phase']}: {rate:.1f} requests/s against the budget's sustained {sustained:.1f}/s "
                  f"({rate / sustained:.0%} of the budget), {row['rate_limited']} answered 429")


def save_plan(rows: list[dict], root: Path, url: str, stats: httpx.Client, env: dict[str, str], emulator_pid: int,
              retries: list[str]) -> int:
    """`--phases saved`: the fleet's plan saved (`plan --out saved.plan`) and shown from the file, as a pull
    request's pipeline does; the file's size in bytes."""
    rows.append(run_phase("plan --out (all new)", ["plan", "--out", "saved.plan", *retries], root, url, stats, {0}, env,
                          emulator_pid))
    rows.append(run_phase("show FILE", ["show", "saved.plan"], root, None, stats, {0}, env, emulator_pid))
    return (root / "saved.plan").stat().st_size


def verify_cost(rows: list[dict]) -> None:
    """What verify after apply cost the update: its extra requests, by route (docs/apply.md, Verify: at most one
    list read per changed kind, all its pages)."""
    phases = {row["phase"]: row for row in rows}
    verified, unverified = phases.get("apply (update all)"), phases.get("apply (no verify)")
    if not verified or not unverified:
        return
    routes = sorted(set(verified["by_route"]) | set(unverified["by_route"]))
    extra = {r: verified["by_route"].get(r, 0) - unverified["by_route"].get(r, 0) for r in routes}
    extra = {r: n for r, n in extra.items() if n}
    shown = ", ".join(f"{r}: {n:+d}" for r, n in extra.items()) or "none"
    print(f"verify: {verified['requests'] - unverified['requests']:+d} request(s) for the update "
          f"({verified['seconds'] - unverified['seconds']:+.2f} s); by route: {shown}. Target: one list read per "
          "changed kind, all pages.")


if __name__ == "__main__":
    main()
