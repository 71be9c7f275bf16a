"""scripts/benchmark.py, as the README shows it, on a small fleet: it runs and reports what it promises."""
import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "benchmark.py"


def test_the_benchmark_runs_every_phase_and_counts_requests_by_route():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONER_")}
    result = subprocess.run([sys.executable, str(SCRIPT), "--count", "30", "--latency-ms", "5"], capture_output=True,
                            text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "the emulator's answer time, 10 at a time" in out
    rows = {line.split("  ")[0]: line for line in out.splitlines() if line.startswith(("plan", "apply", "destroy"))}
    assert set(rows) == {"plan (all new)", "apply (create all)", "plan (no changes)", "apply (update all)",
                         "destroy (all)"}
    assert "POST /user/assistant: 30" in rows["apply (create all)"]
    assert "PUT /user/assistant/{id}: 30" in rows["apply (update all)"]
    assert "DELETE /user/assistant/{id}: 30" in rows["destroy (all)"]
    # The no-change plan: one list page and the three catalogues.
    assert re.search(r"\s4\s+0\s", rows["plan (no changes)"]), rows["plan (no changes)"]
