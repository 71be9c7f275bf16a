"""scripts/benchmark.py --policies: it measures the policy check (rules x manifests, offline) and says so."""
import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "benchmark.py"


def test_the_benchmark_measures_rules_over_manifests():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONER_")}
    result = subprocess.run([sys.executable, str(SCRIPT), "--policies", "12", "--count", "30"], capture_output=True,
                            text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"policies: 12 rules over 30 manifests \(small fleet\): 360 evaluations in [\d.]+ s "
                     r"\([\d.]+ s CPU; [\d.]+ us each\).*0 errors", result.stdout), result.stdout
