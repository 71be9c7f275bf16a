"""A wrong base URL says what is wrong at once: a refused connection and a host name that does not resolve are
named as such without the retry schedule (about 50 s before), retries are shown as they happen, and a 404 before
any success hints that the base URL usually ends in /api."""
import os
import socket
import subprocess
import sys
import time


def closed_port() -> int:
    with socket.socket() as probe:  # bound then closed: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def plan_at(workspace, url, *extra):
    workspace.add("sales")
    started = time.monotonic()
    result = workspace.run("plan", f"--api-url={url}", *extra, api=False)
    return result, time.monotonic() - started


def test_a_refused_connection_fails_at_once_and_says_so(workspace):
    url = f"http://127.0.0.1:{closed_port()}/api"
    result, elapsed = plan_at(workspace, url)
    assert result.exit_code == 1
    assert f"connection refused at {url}: nothing listens there; check --api-url or PROVISIONER_API_URL" \
        in result.stderr
    assert "retrying" not in result.stderr and elapsed < 10, (elapsed, result.stderr)


def test_a_host_that_does_not_resolve_fails_at_once_and_says_so(workspace):
    result, elapsed = plan_at(workspace, "https://nonexistent.invalid/api")
    assert result.exit_code == 1
    assert "cannot resolve host nonexistent.invalid (from https://nonexistent.invalid/api)" in result.stderr
    assert "retrying" not in result.stderr and elapsed < 10, (elapsed, result.stderr)


def test_the_emulator_root_without_api_hints_at_the_api_suffix(workspace):
    root = workspace.platform.root_url.rstrip("/")
    result, _ = plan_at(workspace, root)
    assert result.exit_code == 1 and "not found (404" in result.stderr
    assert f"It usually ends in /api ({root}/api)" in result.stderr


def test_retries_are_shown_as_they_happen(workspace):
    workspace.platform.faults(error_rate=1.0)
    result, _ = plan_at(workspace, workspace.platform.url, "--max-retries", "3", "--retry-backoff", "0.01s")
    assert result.exit_code == 1
    notices = [line for line in result.stderr.splitlines() if "; retrying in " in line]
    assert any(line.endswith("(attempt 2 of 3)") for line in notices), result.stderr
    assert any(line.endswith("(attempt 3 of 3)") for line in notices), result.stderr
    assert all("the platform failed (5" in line for line in notices)


def test_local_with_a_platform_named_on_the_command_line_is_refused(workspace):
    """`plan --local --api-url URL` planned against the embedded platform and never said the URL went unused (the
    same for --token-file and --insecure-http): the two contradict each other, and the run stops before it reads
    or writes anything, exit 1. PROVISIONER_API_URL, set for every run, is what --local stands in for: allowed."""
    workspace.add("sales")
    token = workspace.write("token.txt", "local-dev-token\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROVISIONER_")}
    for extra in (["--api-url", workspace.platform.url], ["--token-file", str(token)], ["--insecure-http"]):
        for command in (["plan"], ["apply", "--auto-approve"], ["refresh"]):
            refused = subprocess.run([sys.executable, "-m", "provisioner", *command, "--local", *extra],
                                     cwd=workspace.root, env=env, capture_output=True, text=True, timeout=120)
            assert refused.returncode == 1 and refused.stdout == "", refused.stderr
            assert f"--local (the embedded local platform) and {extra[0]} (for another platform) contradict" \
                in refused.stderr
    assert not (workspace.root / "state").exists()
    assert workspace.platform.assistants() == []
    from_env = subprocess.run([sys.executable, "-m", "provisioner", "plan", "--local"], cwd=workspace.root,
                              env={**env, "PROVISIONER_API_URL": workspace.platform.url}, capture_output=True,
                              text=True, timeout=120)
    assert from_env.returncode == 0 and "sales will be created" in from_env.stdout, from_env.stderr
