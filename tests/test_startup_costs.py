"""What every command line process pays before its command runs (startup.py, timezones.py, http11's ssl, the saved
plan's models): a plan, an apply and a destroy do not import what they do not use, nor build what they do not
need, and the shortcuts answer exactly as the long ways did. Without these tests the imports creep back."""
import compileall
import os
import re
import subprocess
import sys
import zoneinfo

import pytest
from hypothesis import given, settings, strategies as st

from conftest import REQUIRED, TOKEN

import provisioner
from provisioner import startup, timezones

# Modules no plan, apply or destroy of assistants over http:// needs: pydantic's plugin search (importlib.metadata
# and what it loads), a Retry-After date's parser (email), TLS (ssl), the saved plan's models; nor the commands and
# stores they do not run: the markdown view, pull, export, the policies' engine, PostgreSQL's driver, the emulator.
NEVER_LOADED = ("importlib.metadata", "email", "email.utils", "zipfile", "ssl", "provisioner.plan_file_schema",
                "provisioner.render.markdown", "provisioner.pull", "provisioner.workflow.pull",
                "provisioner.workflow.export", "provisioner.policy", "psycopg", "sqlalchemy", "provisioner.emulator")

# The costliest of the regular expressions that only rare paths use (a moved block, a selector, masking a URL's
# credentials, an escaped `${`): compiled on first use (patterns.py), not by every run's imports.
RARE_PATTERNS = ("provisioner.moves.MOVE_ADDRESS", "provisioner.scrub._URL_CREDENTIALS",
                 "provisioner.scrub._QUERY_SECRET", "provisioner.selection._TERM",
                 "provisioner.manifest._ESCAPED_REFERENCE_PART")

RUN_AND_REPORT = f"RARE = {RARE_PATTERNS!r}\n" + """
import gc, re, runpy, sys
sys.argv = ["provisioner", *sys.argv[1:]]
before = sum(generation["collections"] for generation in gc.get_stats())  # the interpreter's own start
code = 0
try:
    runpy.run_module("provisioner", run_name="__main__")
except SystemExit as end:
    code = end.code
from provisioner.kinds import KINDS
loader = sys.modules.get("pydantic.plugin._loader")
print(repr({"code": code, "modules": sorted(sys.modules), "collecting": gc.isenabled(),
            "plugins": None if loader is None else list(loader.get_plugins()),
            "collections": sum(generation["collections"] for generation in gc.get_stats()) - before,
            "built": sorted(k for k, kind in KINDS.items() if kind.spec_model.__pydantic_complete__),
            "compiled": sorted(f"{name}.{key}" for name, module in list(sys.modules.items())
                               if name.startswith("provisioner.") for key, value in vars(module).items()
                               if isinstance(value, re.Pattern) and f"{name}.{key}" in RARE
                               or type(value).__name__ == "LazyPattern" and "compiled" in vars(value))}),
      file=sys.stderr)
"""


def run_reporting(workspace, *args: str) -> dict:
    env = {**os.environ, "PROVISIONER_API_TOKEN": TOKEN, "PROVISIONER_RATE_LIMIT": "off"}
    result = subprocess.run([sys.executable, "-c", RUN_AND_REPORT, *args, f"--api-url={workspace.platform.url}"],
                            cwd=workspace.root, env=env, capture_output=True, text=True, timeout=120)
    return eval(result.stderr.strip().splitlines()[-1])  # the dict printed last


def test_plan_apply_and_destroy_load_nothing_they_do_not_use(workspace):
    # The package's bytecode, as an installed one has it (pip compiles a wheel's modules as it installs them). Else a
    # module older than its bytecode, under PYTHONDONTWRITEBYTECODE, is compiled from source by every run, and the
    # compiling of startup.py (before it can pause anything) may set off a collection that is the interpreter's.
    assert compileall.compile_dir(os.path.dirname(provisioner.__file__), quiet=1)
    workspace.add("a", timezone="Europe/London")
    workspace.add("b")
    for args, writes in ((("plan",), False), (("apply", "--auto-approve"), True),
                         (("plan", "--detailed-exitcode"), False), (("destroy", "--auto-approve"), True)):
        report = run_reporting(workspace, *args)
        assert report["code"] == 0, (args, report["code"])
        assert not [m for m in NEVER_LOADED if m in report["modules"]], args
        # Pydantic looked for no plugin (startup.py); the collector stayed paused from the first import on, but
        # for the apply's writes (heap.py: it freezes what exists, then collects).
        assert report["plugins"] == [] and report["collecting"] is writes, args
        if not writes:
            assert report["collections"] == 0, args
        # Assistants alone: no other kind's validator was built (their models are built on first use).
        assert report["built"] == [], args
        # The rare paths' regular expressions (patterns.py) were not compiled: no moved block, selector, masking...
        assert report["compiled"] == [], args
        # A plan imports no apply (the session imports it where an apply runs).
        assert ("provisioner.apply" in report["modules"]) is writes, args


def test_python_dash_m_is_set_up_as_the_command_line(workspace):
    """`python -m provisioner` (the package imported while argv[0] is still "-m"), seen by the imports it makes."""
    workspace.add("a")
    env = {**os.environ, "PROVISIONER_API_TOKEN": TOKEN, "PROVISIONER_RATE_LIMIT": "off"}
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "provisioner", "plan",
                             f"--api-url={workspace.platform.url}"], cwd=workspace.root, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "provisioner.manifest" in imported and "pydantic" in imported
    assert not [m for m in NEVER_LOADED if m in imported]


# What `provisioner --version` has no use for: the manifests' models and their libraries, the planner, the state store.
THE_PIPELINE = ("pydantic", "yaml", "orjson", "provisioner.manifest", "provisioner.kinds", "provisioner.planner",
                "provisioner.plan", "provisioner.config", "provisioner.commands.options", "provisioner.commands.run",
                "provisioner.state")

RUN_AND_LIST_MODULES = """
import runpy, sys
sys.argv = ["provisioner", *sys.argv[1:]]
try:
    runpy.run_module("provisioner", run_name="__main__")
except SystemExit:
    pass
print(repr(sorted(sys.modules)), file=sys.stderr)
"""


def test_version_imports_no_stage_of_the_pipeline():
    result = subprocess.run([sys.executable, "-c", RUN_AND_LIST_MODULES, "--version"], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout == f"provisioner, version {provisioner.__version__}\n"
    modules = eval(result.stderr.strip().splitlines()[-1])
    assert "provisioner.cli" in modules and not [m for m in THE_PIPELINE if m in modules]


def test_validate_imports_no_session_of_the_platform_nor_the_markdown_view(workspace):
    workspace.add("a")
    result = subprocess.run([sys.executable, "-c", RUN_AND_LIST_MODULES, "validate"], cwd=workspace.root,
                            capture_output=True, text=True, timeout=60)
    assert "valid" in result.stdout
    modules = eval(result.stderr.strip().splitlines()[-1])
    assert "provisioner.workflow.manifests" in modules
    assert not [m for m in ("provisioner.workflow.session", "provisioner.reading", *NEVER_LOADED) if m in modules]


def test_the_library_api_is_there_as_before():
    probe = ("import sys, provisioner\nfrom provisioner import *\nimport provisioner.manifest as m, provisioner.plan as p\n"
             "print(provisioner.Manifest is m.Manifest is Manifest, Plan is p.Plan, sorted(provisioner.__all__) == "
             "sorted(n for n in provisioner.__all__ if n in dir(provisioner)))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split() == ["True", "True", "True"]
    # Each module imports on its own, whichever comes first (the package no longer imports the kinds before all else).
    for module in ("provisioner.spec", "provisioner.wire", "provisioner.kinds.base", "provisioner.graph"):
        subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, timeout=60, check=True)
    missing = subprocess.run([sys.executable, "-c", "import provisioner; provisioner.nothing"], capture_output=True,
                             text=True, timeout=60)
    assert "AttributeError: module 'provisioner' has no attribute 'nothing'" in missing.stderr


def test_a_library_keeps_its_collector_and_its_pydantic_plugins():
    probe = ("import gc, sys\nimport provisioner\nfrom provisioner.spec import validate_spec\n"
             "print(gc.isenabled(), 'pydantic.plugin._loader' in sys.modules and "
             "sys.modules['pydantic.plugin._loader'].get_plugins.__module__)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split() == ["True", "pydantic.plugin._loader"]  # pydantic's own loader, not ours


@pytest.mark.parametrize("argv, interpreter_argv, expected", [
    (["-m", "plan"], ["python", "-m", "provisioner", "plan"], True),
    (["-m"], ["python", "-X", "importtime", "-mprovisioner"], True),
    (["-m", "x"], ["python", "-m", "provisioner.__main__", "x"], True),
    (["-m", "x"], ["python", "-m", "pytest", "x"], False),
    (["/venv/bin/provisioner", "plan"], ["python", "/venv/bin/provisioner", "plan"], True),
    (["/venv/bin/pytest", "-q"], ["python", "/venv/bin/pytest", "-q"], False),
    (["tools/provisioner.py"], ["python", "tools/provisioner.py"], False),  # a program that uses the library
    (["-c", "plan"], ["python", "-c", "import provisioner", "plan"], False),
    ([], ["python"], False),
])
def test_started_as_command_line(monkeypatch, argv, interpreter_argv, expected):
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(sys, "orig_argv", interpreter_argv)
    assert startup.started_as_command_line() is expected


# --- timezones: the same answer as zoneinfo.available_timezones(), from tzdata's list when it has the name ---

ALL_ZONES = sorted(zoneinfo.available_timezones())
TZDATA_ZONES = sorted(timezones._tzdata_zones())


def _edits(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name.lower(), name.upper(), name + "/", "/" + name, name + " ", name.replace("/", "//"),
                            name[:-1], "right/" + name, "posix/" + name, name.replace("_", " ")])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.sampled_from(ALL_ZONES), st.sampled_from(TZDATA_ZONES or ["UTC"]),
                 st.sampled_from(ALL_ZONES).flatmap(_edits),
                 st.sampled_from(["posixrules", "localtime", "Factory", "", ".", "..", "../UTC", "zone.tab",
                                  "tzdata.zi", "leapseconds", "iso3166.tab", "SystemV/AST4"]),
                 st.text(max_size=30)))
def test_is_iana_timezone_answers_as_the_full_listing(name):
    assert timezones.is_iana_timezone(name) is (name in zoneinfo.available_timezones())


def test_a_zone_on_tzdata_list_is_known_without_listing_the_system(monkeypatch):
    assert TZDATA_ZONES, "tzdata (a dependency) lists its zones"

    def listing_everything():
        raise AssertionError("zoneinfo.available_timezones() was called")

    timezones.iana_timezones.cache_clear()
    monkeypatch.setattr(zoneinfo, "available_timezones", listing_everything)
    try:
        from provisioner.spec import validate_spec

        spec, problems = validate_spec({"assistant_name": "A", **REQUIRED, "timezone": "Europe/London"})
        assert spec is not None and not problems
    finally:
        monkeypatch.undo()
        timezones.iana_timezones.cache_clear()


def test_a_name_that_is_no_zone_is_still_told_the_closest_one():
    from provisioner.spec import validate_spec

    _, problems = validate_spec({"assistant_name": "A", **REQUIRED, "timezone": "Europe/Londn"})
    assert [p.message for p in problems] == ["'Europe/Londn' is not an IANA time zone (did you mean 'Europe/London'?)"]


# --- http11 imports ssl with the first https:// connection: TLS works as before, its sockets reused ---

@pytest.fixture
def tls_server(tmp_path):
    import shutil
    import ssl

    from test_http11 import RawServer

    if not shutil.which("openssl"):
        pytest.skip("no openssl to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    class TlsServer(RawServer):
        def _answer_on(self, connection):
            with context.wrap_socket(connection, server_side=True) as tls:
                super()._answer_on(tls)

    from test_http11 import ok

    server = TlsServer(lambda line: ok(b'[{"id": 1, "name": "English"}]'))
    server.url = server.url.replace("http://", "https://")
    yield server, cert
    server.close()


def test_an_https_platform_is_spoken_to_over_tls_and_its_connection_reused(tls_server, monkeypatch):
    from provisioner.client import PlatformClient, RetryPolicy

    server, cert = tls_server
    for variable in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                     "SSL_CERT_DIR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    client = PlatformClient(server.url, "tok", retry=RetryPolicy(max_attempts=1))
    assert client._fast is not None  # http11, not httpx
    for _ in range(3):
        assert client.languages() == [{"id": 1, "name": "English"}]
    assert server.connections == 1 and len(server.requests) == 3


@pytest.mark.parametrize("module", ["provisioner.spec", "provisioner.config", "provisioner.kinds.campaign",
                                    "provisioner.kinds.tool", "provisioner.kinds.siptrunk",
                                    "provisioner.kinds.knowledgebase", "provisioner.kinds.folder",
                                    "provisioner.kinds.number"])
def test_the_modules_of_models_do_not_postpone_their_annotations(module):
    """`from __future__ import annotations` would make pydantic compile each field's annotation again from its
    text at every start (kinds/base.py); the import binds the feature to the name `annotations`."""
    import __future__
    import importlib

    assert importlib.import_module(module).__dict__.get("annotations") is not __future__.annotations


# The command line, interrupted (Ctrl-C, as a CI job's cancel or a test driver sends it) while the package is still
# being imported: an import finder sends the process its own SIGINT as provisioner.cli starts to load (the modules
# the command itself needs load later, once it has started: the package imports them on first use).
INTERRUPTED_WHILE_IMPORTING = """
import os, runpy, signal, sys
sys.argv = ["provisioner", *sys.argv[1:]]


class InterruptAtCli:
    def find_spec(self, name, path=None, target=None):
        if name == "provisioner.cli":
            os.kill(os.getpid(), signal.SIGINT)
        return None


sys.meta_path.insert(0, InterruptAtCli())
runpy.run_module("provisioner", run_name="__main__")
"""


def test_ctrl_c_while_the_command_line_starts_ends_as_an_interrupt_not_a_traceback(tmp_path):
    """Before the command ran, Ctrl-C ended the run with the traceback of whichever import it cut (exit 1): the
    fault review's driver, interrupting applies at random moments, met it in one run in ten. Nothing has been
    read, sent or written by then: the run says "Interrupted." and exits 130, as an interrupted command does."""
    result = subprocess.run([sys.executable, "-c", INTERRUPTED_WHILE_IMPORTING, "validate"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr and "KeyboardInterrupt" not in result.stderr, result.stderr[-2000:]
    assert (result.returncode, result.stderr, result.stdout) == (130, "Interrupted.\n", "")


def test_a_library_keeps_pythons_own_ctrl_c():
    """Only the command line's start is told how to end at Ctrl-C: a program importing the package keeps its
    KeyboardInterrupt. In a process of its own, with Python's handler set first: a process started with Ctrl-C
    ignored (a job run in the background by a shell) has no handler to keep, and read so here it failed."""
    probe = ("import signal\n"
             "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
             "import provisioner, provisioner.cli, provisioner.manifest\n"
             "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "True", result.stderr[-2000:]


# --- patterns.py: a module-level regular expression compiled on its first use, answering as the compiled one ---

@settings(max_examples=200, deadline=None)
@given(st.sampled_from([r"[a-z]+\.(?P<name>[a-z0-9-]+)", r"\s*(\d+)\s*/\s*(\d+)", r"(?i)bearer\s+\S+"]),
       st.text(alphabet="ab.-1 /Bearx\t", max_size=20))
def test_a_lazy_pattern_answers_as_the_compiled_one(source, text):
    from provisioner.patterns import LazyPattern

    lazy, compiled = LazyPattern(source), re.compile(source)
    assert "compiled" not in vars(lazy)  # nothing compiled until it is used
    for method in ("fullmatch", "match", "search"):
        got, expected = getattr(lazy, method)(text), getattr(compiled, method)(text)
        assert (got and got.groups()) == (expected and expected.groups())
    assert lazy.sub("-", text) == compiled.sub("-", text) and lazy.findall(text) == compiled.findall(text)
    assert (lazy.pattern, lazy.flags, lazy.groupindex) == (compiled.pattern, compiled.flags, compiled.groupindex)
