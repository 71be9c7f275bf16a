"""scripts/benchmark.py --policies: it measures the policy check (rules x manifests, offline) and says so."""
import re
import subprocess
import sys

from test_benchmark_script import SCRIPT


def test_the_benchmark_measures_rules_over_manifests():
    command = [sys.executable, str(SCRIPT), "--policies", "12", "--count", "30"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240)  # offline: no platform settings
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"policies: 12 rules over 30 manifests \(small fleet\): 360 evaluations in [\d.]+ s "
                     r"\([\d.]+ s CPU; [\d.]+ us each\).*0 errors", result.stdout), result.stdout
