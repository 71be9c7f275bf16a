"""provisioner.yaml, the environment and the flags, resolved once into a Config (flags > env > file > defaults)."""
import json

import pytest

from provisioner.config import ConfigError, parse_rate_limit, resolve_config
from provisioner.workflow.settings import Settings


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # file names in messages are relative to the current folder


def problems_of(tmp_path, text, **kwargs):
    (tmp_path / "provisioner.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        resolve_config(cwd=tmp_path, environ=kwargs.pop("environ", {}), **kwargs)
    return [str(p) for p in caught.value.problems]


def test_no_file_means_the_built_in_defaults(tmp_path):
    config = resolve_config(cwd=tmp_path, environ={})
    assert config.config_file is None
    assert (config.state_path, config.workspace, config.api_dialect, config.backend) == \
        ("state/provisioner.db", "default", "v1", "sqlite")
    assert (config.parallelism, config.max_retries, config.retry_max_time, config.rate_limit) == (10, 10, 120.0, None)
    assert config.manifest_paths() == ["manifests"] and config.manifest_paths(("x",)) == ["x"]


def test_flags_beat_environment_beat_file_beat_defaults(tmp_path):
    (tmp_path / "provisioner.yaml").write_text(
        "project: acme\napi_url: https://file.example/api\nworkspace: staging\nparallelism: 4\n"
        "api_dialect: v2\nbackend: postgres\nrate_limit: 100/60s,20/10s\nretry_backoff: 250ms\n"
        "manifests: [assistants]\n")
    environ = {"PROVISIONER_API_URL": "https://env.example/api", "PROVISIONER_WORKSPACE": "prod",
               "PROVISIONER_PARALLELISM": "6", "PROVISIONER_RATE_LIMIT": "off"}
    config = resolve_config({"workspace": "dev", "parallelism": 8}, cwd=tmp_path, environ=environ)
    assert config.workspace == "dev" and config.parallelism == 8                  # flags
    assert config.api_url == "https://env.example/api" and config.rate_limit == "off"  # environment
    assert config.api_dialect == "v2" and config.backend == "postgres" and config.project == "acme"  # file
    assert config.retry_backoff == 0.25 and config.manifests == ("assistants",)
    assert config.lock_timeout == 0.0 and config.max_retries == 10                # defaults
    assert config.state_path == "state/provisioner.db"  # one store holds every workspace's state
    assert config.origins["workspace"] == "--workspace" and config.origins["api_url"] == "PROVISIONER_API_URL"
    assert config.origins["api_dialect"] == "provisioner.yaml:5"
    settings = Settings.from_config(config)
    assert (settings.api_dialect, settings.backend, settings.workspace, settings.rate_limit,
            settings.parallelism, settings.state_path, settings.api_url) == \
        ("v2", "postgres", "dev", (), 8, "state/provisioner.db", "https://env.example/api")  # () is "off" for the client
    assert settings.retry.backoff_base == 0.25 and settings.inputs.workspace == "dev"


def test_unknown_key_names_the_line_and_a_suggestion(tmp_path):
    found = problems_of(tmp_path, "project: acme\n\nparalelism: 4\napi_dialect: v3\nmax_retries: 0\n")
    assert "provisioner.yaml:3: paralelism: unknown key 'paralelism' (did you mean 'parallelism'?)" in found
    assert any(p.startswith("provisioner.yaml:4: api_dialect: must be one of") for p in found), found
    assert "provisioner.yaml:5: max_retries: must be at least 1 (got 0)" in found


@pytest.mark.parametrize("key", ["token", "api_token", "pg_dsn", "password"])
def test_secrets_are_refused_in_the_file(tmp_path, key):
    [problem] = problems_of(tmp_path, f"project: acme\n{key}: hunter2-secret\n")
    assert problem.startswith(f"provisioner.yaml:2: {key}: '{key}' looks like a secret")
    assert "PROVISIONER_API_TOKEN" in problem and "environment" in problem
    assert "hunter2" not in problem


def test_credentials_in_the_url_are_refused(tmp_path):
    [problem] = problems_of(tmp_path, "api_url: https://me:pw@platform.example/api\n")
    assert "provisioner.yaml:1: api_url: must not carry credentials" in problem and "pw" not in problem.split(":", 3)[3]


def test_environment_errors_name_the_variable(tmp_path):
    with pytest.raises(ConfigError) as caught:
        resolve_config(cwd=tmp_path, environ={"PROVISIONER_MAX_RETRIES": "500", "PROVISIONER_BACKEND": "mysql",
                                              "PROVISIONER_RATE_LIMIT": "lots"})
    text = str(caught.value)
    assert "PROVISIONER_MAX_RETRIES: must be at most 100 (got '500')" in text
    assert "PROVISIONER_BACKEND: must be one of 'sqlite' or 'postgres' (got 'mysql')" in text
    assert "PROVISIONER_RATE_LIMIT: 'lots' is not a rate limit" in text



FREE_TEXT = ("PROVISIONER_PROJECT", "PROVISIONER_STATE")  # any one-line text is a valid value of these


@pytest.mark.parametrize("command", [["plan"], ["validate"], ["render"], ["state", "list"], ["workspace", "list"]])
def test_a_bad_provisioner_variable_is_named_as_the_variable_by_every_command(command, monkeypatch):
    """docs/configuration.md: errors name the environment variable, all together. click read PROVISIONER_API_DIALECT
    and PROVISIONER_BACKEND itself for --api-dialect and --backend and refused a bad value alone, as "Invalid value
    for '--api-dialect'": a flag nobody gave."""
    from click.testing import CliRunner

    from provisioner.cli import cli
    from provisioner.config import ENV_KEYS

    for variable in [v for v in __import__("os").environ if v.startswith("PROVISIONER_")]:
        monkeypatch.delenv(variable)
    for variable in set(ENV_KEYS) - set(FREE_TEXT):
        result = CliRunner().invoke(cli, command, env={variable: "not-valid!"})
        if result.exit_code == 0:  # a command that does not read this setting
            continue
        assert result.exit_code == 1 and "Invalid value for" not in result.stderr, (variable, result.stderr)
        assert f"{variable}: " in result.stderr, (variable, result.stderr)
    both = CliRunner().invoke(cli, command, env={"PROVISIONER_API_DIALECT": "v3", "PROVISIONER_BACKEND": "mysql",
                                                 "PROVISIONER_WORKSPACE": "a b"})
    assert both.exit_code == 1 and "configuration errors:" in both.stderr, both.stderr

def test_rate_limit_syntax():
    assert parse_rate_limit(" 100/60s, 20/10s ") == "100/60s,20/10s"
    assert parse_rate_limit("off") == "off" and parse_rate_limit(False) == "off"  # YAML reads `off` as false
    assert parse_rate_limit("documented") == "100/60s,20/10s" and parse_rate_limit("1000/1m") == "1000/60s"
    for bad in ("100", "100/", "x/10s", "0/10s", "10/0s", "", True, 100):
        with pytest.raises(ValueError):
            parse_rate_limit(bad)


def test_config_file_elsewhere_resolves_its_paths_from_its_folder(tmp_path):
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "ci.yaml").write_text("state: state/ci.db\nmanifests: [assistants]\n")
    config = resolve_config(cwd=tmp_path, environ={"PROVISIONER_CONFIG": "repo/ci.yaml"})
    assert config.state_path == "repo/state/ci.db" and config.manifests == ("repo/assistants",)
    assert config.inputs.root == "repo"
    bare = resolve_config(cwd=tmp_path, environ={}, config_file="repo/ci.yaml", flags={"workspace": "prod"})
    assert bare.state_path == "repo/state/ci.db"
    (tmp_path / "repo" / "ci.yaml").write_text("project: acme\n")
    bare = resolve_config(cwd=tmp_path, environ={}, config_file="repo/ci.yaml", flags={"workspace": "prod"})
    assert bare.state_path == "repo/state/provisioner.db" and bare.manifests == ("repo/manifests",)
    with pytest.raises(ConfigError, match="--config nope.yaml: no such file"):
        resolve_config(cwd=tmp_path, environ={}, config_file="nope.yaml")


def test_the_cli_uses_the_file_and_the_flags_override_it(workspace):
    workspace.add("one")
    workspace.write("provisioner.yaml", "state: state/from-file.db\nparallelism: 3\n")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert (workspace.root / "state" / "from-file.db").exists()
    assert json.loads(workspace.run("state", "pull", "--state", "state/from-file.db").output)["resources"].keys() \
        == {"one"}
    assert not workspace.state_file.exists()
    flagged = workspace.run("plan", "--state", "state/flag.db")
    assert "# one will be imported" in flagged.output  # a fresh state adopts the assistant, never duplicates
    workspace.write("provisioner.yaml", "state: state/from-file.db\nparalelism: 3\ntoken: abc\n")
    broken = workspace.run("plan")
    assert broken.exit_code == 1
    assert "provisioner.yaml:2: paralelism: unknown key 'paralelism' (did you mean 'parallelism'?)" in broken.stderr
    assert "provisioner.yaml:3: token: 'token' looks like a secret" in broken.stderr and "abc" not in broken.stderr


def test_environment_overrides_the_file_in_the_cli(workspace, monkeypatch):
    workspace.add("one")
    workspace.write("provisioner.yaml", "state: state/from-file.db\n")
    monkeypatch.setenv("PROVISIONER_STATE", "state/from-env.db")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert (workspace.root / "state" / "from-env.db").exists()
    assert not (workspace.root / "state" / "from-file.db").exists()


def test_a_flag_overrides_the_environment_in_the_cli(workspace, monkeypatch):
    workspace.add("one")
    monkeypatch.setenv("PROVISIONER_STATE", "state/from-env.db")
    monkeypatch.setenv("PROVISIONER_WORKSPACE", "staging")
    workspace.write("vars/staging.yaml", "x: 1\n")  # a workspace the repository defines: created on first use
    workspace.write("vars/prod.yaml", "x: 2\n")
    assert workspace.run("apply", "--auto-approve", "--state", "state/from-flag.db").exit_code == 0
    assert (workspace.root / "state" / "from-flag.db").exists()
    assert not (workspace.root / "state" / "from-env.db").exists()
    rendered = workspace.run("render", "--workspace", "prod", api=False)
    assert rendered.output.startswith("# one: workspace prod;")
    assert workspace.run("render", api=False).output.startswith("# one: workspace staging;")


def test_selecting_a_workspace_that_the_environment_or_the_file_overrides_is_refused(workspace, monkeypatch):
    """With PROVISIONER_WORKSPACE=prod (or `workspace: prod` in provisioner.yaml), `workspace select staging` said
    "Switched to workspace 'staging'" and every later command ran in prod: a pipeline's select-then-apply applied to
    the other workspace."""
    for name in ("staging", "prod"):
        workspace.write(f"vars/{name}.yaml", "x: 1\n")
    monkeypatch.setenv("PROVISIONER_WORKSPACE", "prod")
    for command in (("select", "--or-create", "staging"), ("new", "staging")):
        refused = workspace.run("workspace", *command)
        assert refused.exit_code == 1, refused.all
        message = " ".join(refused.stderr.split())
        assert "PROVISIONER_WORKSPACE sets the workspace to 'prod'" in message and "Nothing was changed" in message
        # `new` says how to create it all the same (the option was named nowhere but in --help).
        assert ("provisioner workspace new --no-select staging" in message) == (command[0] == "new"), message
    assert workspace.run("workspace", "list").output.split() == ["default"]  # no staging made
    assert workspace.run("workspace", "select", "--or-create", "prod").exit_code == 0  # the same one: fine
    assert workspace.run("workspace", "new", "staging", "--no-select").exit_code == 0  # not selected: fine
    monkeypatch.delenv("PROVISIONER_WORKSPACE")
    workspace.write("provisioner.yaml", "workspace: prod\n")
    refused = workspace.run("workspace", "select", "staging")
    assert refused.exit_code == 1 and "provisioner.yaml:1 sets the workspace to 'prod'" in refused.stderr, refused.all
    assert workspace.run("workspace", "show").output.strip() == "prod"


def test_the_repository_settings_keep_the_quick_start_working(tmp_path, monkeypatch):
    """The README's `provisioner plan --local` on the example manifests and the repository's provisioner.yaml
    (the v2 dialect: folders, labels and knowledge bases exist only there)."""
    import shutil
    from pathlib import Path

    from click.testing import CliRunner

    from provisioner.cli import cli

    root = Path(__file__).parent.parent
    shutil.copytree(root / "manifests", tmp_path / "manifests")
    shutil.copy(root / "provisioner.yaml", tmp_path / "provisioner.yaml")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["plan", "--local"])
    assert result.exit_code == 0, result.output
    assert "Plan: 9 to add, 0 to change, 0 to destroy." in result.output
    for kind in ("assistant: 4", "document: 1", "folder: 1", "knowledgebase: 1", "label: 1", "tool: 1"):
        assert f"{kind} to add" in result.output


def test_a_workspace_name_is_a_safe_folder_name(tmp_path):
    for bad in ("../prod", "a/b", "", "-x"):
        with pytest.raises(ConfigError, match="--workspace: must be 1-63 letters, digits"):
            resolve_config({"workspace": bad}, environ={})
    assert resolve_config({"workspace": "Prod_2-eu"}, environ={}).workspace == "Prod_2-eu"


def test_an_empty_or_commented_out_file_is_fine_and_a_list_is_not(tmp_path):
    (tmp_path / "provisioner.yaml").write_text("# workspace: prod\n")
    assert resolve_config(environ={}).config_file == "provisioner.yaml"
    assert problems_of(tmp_path, "- a\n- b\n") == ["provisioner.yaml:1: provisioner.yaml must be one YAML mapping of "
                                                    "settings"]


def test_the_state_and_workspace_commands_read_the_configuration_file_like_plan_and_apply(workspace, monkeypatch):
    monkeypatch.delenv("PROVISIONER_PROJECT", raising=False)
    workspace.add("one")
    workspace.write("provisioner.yaml", "project: acme-voice\nstate: state/team.db\nworkspace: staging\n")
    workspace.write("vars/staging.yaml", "x: 1\n")  # defined by the repository: created on first use
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert "one\tid=" in workspace.run("state", "list").output
    pulled = json.loads(workspace.run("state", "pull").output)
    assert pulled["resources"].keys() == {"one"} and pulled["serial"] >= 1
    assert workspace.run("workspace", "show").output.strip() == "staging"
    assert "* staging" in workspace.run("workspace", "list").output
    assert "one" in workspace.run("show").output
    # The project is the file's (not the folder's): another project in the same database sees nothing.
    monkeypatch.setenv("PROVISIONER_PROJECT", "another")
    assert workspace.run("state", "list", "--workspace", "default").output.strip() == ""
    assert workspace.run("state", "list").output.strip() == ""
    monkeypatch.delenv("PROVISIONER_PROJECT")
    # A flag still wins over the file: no store there (and none made for `state list`).
    other = workspace.run("state", "list", "--state", "state/other.db", "--workspace", "default")
    assert other.exit_code == 1 and "there is no state at SQLite state/other.db" in other.stderr, other.all
    assert not (workspace.root / "state" / "other.db").exists()


def test_campaign_create_path_from_flag_environment_or_file_and_checked(tmp_path):
    assert resolve_config(cwd=tmp_path, environ={}).campaign_create_path == "/user/campaigns"
    (tmp_path / "provisioner.yaml").write_text("campaign_create_path: /user/campaign\n")
    assert resolve_config(cwd=tmp_path, environ={}).campaign_create_path == "/user/campaign"
    environ = {"PROVISIONER_CAMPAIGN_CREATE_PATH": "/user/campaigns"}
    assert resolve_config(cwd=tmp_path, environ=environ).campaign_create_path == "/user/campaigns"
    assert resolve_config({"campaign_create_path": "/user/campaign"}, cwd=tmp_path,
                          environ=environ).campaign_create_path == "/user/campaign"
    (tmp_path / "provisioner.yaml").write_text("campaign_create_path: /user/campaignz\n")
    with pytest.raises(ConfigError, match=r"provisioner.yaml:1.*campaign create path must be one of"):
        resolve_config(cwd=tmp_path, environ={})


def test_the_configured_campaign_create_path_is_the_one_the_campaign_kind_creates_through(tmp_path):
    from provisioner.kinds import KINDS
    from provisioner.workflow.settings import Settings

    try:
        Settings.from_config(resolve_config({"campaign_create_path": "/user/campaign"}, cwd=tmp_path, environ={}))
        assert KINDS["campaign"].endpoints.create.keywords == {"path": "/user/campaign"}
    finally:
        Settings.from_config(resolve_config(cwd=tmp_path, environ={}))
    assert KINDS["campaign"].endpoints.create.keywords == {"path": "/user/campaigns"}


def test_a_workspace_the_store_makes_with_a_dot_can_be_chosen_every_way(workspace, monkeypatch):
    """`workspace new prod.eu` works (the store's names take '.'): so do --workspace, the environment and the file."""
    workspace.add("a")
    assert workspace.run("workspace", "new", "prod.eu").exit_code == 0
    assert workspace.run("plan", "--workspace", "prod.eu").exit_code == 0
    monkeypatch.setenv("PROVISIONER_WORKSPACE", "prod.eu")
    assert workspace.run("plan").exit_code == 0
    monkeypatch.delenv("PROVISIONER_WORKSPACE")
    workspace.write("provisioner.yaml", "workspace: prod.eu\n")
    assert workspace.run("plan").exit_code == 0


def test_a_workspace_declared_by_a_yml_vars_file_is_created_on_first_use(workspace):
    """vars/<workspace>.yml is read as .yaml is: it declares the workspace as well."""
    workspace.add("a")
    workspace.write("vars/qa.yml", "{}\n")
    result = workspace.run("plan", "--workspace", "qa")
    assert result.exit_code == 0, result.all


@pytest.mark.parametrize("line, says", [
    ("parallelism: true", "parallelism: expected a whole number, got true"),
    ("max_retries: false", "max_retries: expected a whole number, got false"),
    ("request_timeout: 0", "request_timeout: "),
])
def test_a_configuration_value_that_only_looks_valid_is_refused_with_its_line(workspace, line, says):
    """`true` is not 1, and a request timeout of 0 would fail every request as a connection never opened."""
    workspace.add("a")
    workspace.write("provisioner.yaml", line + "\n")
    result = workspace.run("plan")
    assert result.exit_code == 1 and "provisioner.yaml:1: " + says in result.stderr, result.all


def test_a_file_that_is_not_utf8_is_named_as_the_file_it_is_not_as_a_manifest(workspace):
    """A provisioner.yaml (or vars file) saved in Latin-1 was refused with "...; manifests are YAML in UTF-8", a
    manifest's wording for a file that is none; the message says what to do with whichever file it is."""
    workspace.add("a")
    latin1 = "caf\xe9".encode("latin-1")
    for file, other in (("provisioner.yaml", None), ("vars/default.yaml", "provisioner.yaml")):
        if other:
            workspace.write(other, "project: cafe\n")
        workspace.write(file, "")
        workspace.root.joinpath(file).write_bytes(b"project: " + latin1 + b"\n")
        result = workspace.run("validate", api=False)
        assert result.exit_code == 1 and f"{file}:1: not UTF-8 text (byte 0xe9 at offset " in result.stderr, result.all
        assert "manifest" not in result.stderr.split("\n", 1)[1] and "save the file as UTF-8" in result.stderr


def test_a_duration_of_hundreds_of_digits_is_refused_not_a_crash(workspace):
    """It reads as infinity, and the lock's wait (SQLite's busy timeout, in whole milliseconds) cannot be infinite:
    the run stopped on an unexpected OverflowError before it said which setting was wrong."""
    workspace.add("a")
    huge = "9" * 400
    workspace.write("provisioner.yaml", f"lock_timeout: '{huge}s'\n")
    result = workspace.run("plan")
    assert result.exit_code == 1, result.all
    assert "provisioner.yaml:1: lock_timeout: '999" in result.stderr and "is too long a duration" in result.stderr
    assert "unexpected" not in result.all and huge not in result.all
    workspace.write("provisioner.yaml", "")
    result = workspace.run("plan", "--lock-timeout", huge + "ms")
    assert result.exit_code == 1 and "--lock-timeout: '999" in result.stderr, result.all


@pytest.mark.parametrize("line, field", [('state: "state/\\0x.db"', "state"), ('manifests: ["manif\\0ests"]', "manifests.0"),
                                         ('policies: ["pol\\0"]', "policies.0")])
def test_a_path_with_a_nul_is_refused_with_its_line(workspace, line, field):
    """YAML writes a NUL as "\\0"; os.stat and open refuse it with a ValueError (an unexpected error, before)."""
    workspace.add("a")
    workspace.write("provisioner.yaml", line + "\n")
    for command in ("validate", "plan"):
        result = workspace.run(command)
        assert result.exit_code == 1, result.all
        assert f"provisioner.yaml:1: {field}: a path cannot hold a NUL character" in result.stderr, result.all
        assert "\0" not in result.all


@pytest.mark.parametrize("url, says", [("http://127.0.0.1:99999/api", "has a port that is not a number"),
                                       ("http://127.0.0.1:8080/api\\n", "without whitespace or control characters")])
def test_an_api_url_the_connection_refuses_is_refused_with_its_line(tmp_path, url, says):
    """Refused only when connecting, the message named --api-url, not the file and line that set it."""
    [problem] = problems_of(tmp_path, f'api_url: "{url}"\n')
    assert problem.startswith("provisioner.yaml:1: api_url: ") and says in problem, problem
    (tmp_path / "provisioner.yaml").unlink()
    with pytest.raises(ConfigError) as caught:
        resolve_config(cwd=tmp_path, environ={"PROVISIONER_API_URL": url.replace("\\n", "\n")}, config_file=None)
    assert "PROVISIONER_API_URL: " in str(caught.value) and says in str(caught.value)


@pytest.mark.parametrize("value", ['"a\\nb"', '"p\\0"', '"  "', '"p\\u2028q"'])
def test_a_project_name_the_store_refuses_is_refused_with_its_line(tmp_path, value):
    """The state store refused it when it opened, in a message without the file, the line or the setting."""
    [problem] = problems_of(tmp_path, f"project: {value}\n")
    assert problem.startswith("provisioner.yaml:1: project: not a valid project name (one line"), problem
