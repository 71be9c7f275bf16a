"""`${env.NAME}` inside a vars/ file: a per-workspace secret, expanded where used and kept as secret as an
`${env.NAME}` written in the manifest (masked in output, digested in state and plans)."""
import json

SECRET = "crm-key-prod-7f3a9c"


def setup(workspace, monkeypatch):
    workspace.add("sales", variables={"api_key": "${var.crm_key}", "region": "eu"})
    workspace.write("vars/prod.yaml", "region: eu\ncrm_key: ${env.PROD_CRM_KEY}\n")
    workspace.write("vars/staging.yaml", "crm_key: staging-not-secret\n")
    monkeypatch.setenv("PROD_CRM_KEY", SECRET)


def test_env_in_a_vars_file_is_expanded_and_never_shown(workspace, monkeypatch):
    setup(workspace, monkeypatch)
    assert workspace.run("workspace", "new", "prod").exit_code == 0
    planned = workspace.run("plan", "--out", "prod.plan")
    assert planned.exit_code == 0, planned.all
    as_json = workspace.run("plan", "--json")
    rendered = workspace.run("render", api=False)
    for output in (planned.all, as_json.all, rendered.all, (workspace.root / "prod.plan").read_text()):
        assert SECRET not in output and "${env.PROD_CRM_KEY}" not in output
    assert any("variables" in line and "(sensitive)" in line for line in planned.output.splitlines())
    assert "# sensitive (masked): variables" in rendered.output
    applied = workspace.run("apply", "prod.plan")
    assert applied.exit_code == 0, applied.all
    [sales] = workspace.platform.assistants()
    assert sales["variables"]["api_key"] == SECRET  # the platform gets the value, not the template
    state = workspace.state()
    assert SECRET not in json.dumps(state) and "variables" in state["resources"]["sales"]["sensitive"]
    assert "No changes." in workspace.run("plan").output


def test_an_unset_variable_names_the_vars_file(workspace, monkeypatch):
    setup(workspace, monkeypatch)
    monkeypatch.delenv("PROD_CRM_KEY")
    result = workspace.run("validate", "--workspace", "prod", api=False)
    assert result.exit_code == 1
    assert "environment variable PROD_CRM_KEY is not set (used by ${var.crm_key}, set in vars/prod.yaml:2)" \
        in result.stderr


def test_a_secret_variable_cannot_name_the_assistant_and_a_bad_template_is_refused(workspace, monkeypatch):
    setup(workspace, monkeypatch)
    workspace.add("other", name="Other ${var.crm_key}")
    named = workspace.run("validate", "--workspace", "prod", api=False)
    assert named.exit_code == 1 and "spec.assistant_name: ${var.crm_key} holds ${env.…} (vars/prod.yaml:2)" \
        in named.stderr and SECRET not in named.all
    workspace.remove("other")
    workspace.write("vars/prod.yaml", "crm_key: ${env.X}-${var.region}\n")
    mixed = workspace.run("validate", "--workspace", "prod", api=False)
    assert mixed.exit_code == 1 and "vars/prod.yaml:1: crm_key: ${var.region}: a variables file may use " \
        "${env.NAME}, not other variables" in mixed.stderr


def test_a_vars_file_value_naming_another_variable_is_refused_not_passed_on_as_text(workspace, monkeypatch):
    """docs/configuration.md: a vars file may not use ${var.NAME}. Without ${env.} beside it, the reference
    used to reach the manifest as literal text (`Hi ${var.region}` sent to the platform)."""
    setup(workspace, monkeypatch)
    workspace.write("vars/staging.yaml", "crm_key: staging-not-secret\ngreeting: {text: [\"Hi ${var.region}\"]}\n")
    refused = workspace.run("render", "--workspace", "staging", api=False)
    assert refused.exit_code == 1 and "vars/staging.yaml:2: greeting: ${var.region}: a variables file may use " \
        "${env.NAME}, not other variables" in refused.stderr, refused.all
    workspace.write("vars/staging.yaml", "crm_key: staging-not-secret\ngreeting: Prices use ${PRICE} and $${var.x}\n")
    assert workspace.run("render", "--workspace", "staging", api=False).exit_code == 0  # other text is text


def test_a_vars_file_of_several_documents_and_a_var_flag_naming_a_variable_are_refused(workspace, monkeypatch):
    """A second document silently won over the first; `--var x=${var.y}` reached the manifest as text."""
    setup(workspace, monkeypatch)
    workspace.write("vars/staging.yaml", "crm_key: first\n---\ncrm_key: second\n")
    refused = workspace.run("render", "--workspace", "staging", api=False)
    assert refused.exit_code == 1 and "vars/staging.yaml:3: a variables file must be one mapping" in refused.stderr, \
        refused.all
    workspace.write("vars/staging.yaml", "crm_key: one\n")
    twice = workspace.run("render", "--workspace", "staging", "--var-file", "vars/staging.yaml", api=False)
    assert twice.exit_code == 0, twice.all  # the same one-document file read twice is not "several documents"
    flagged = workspace.run("render", "--workspace", "staging", "--var", "crm_key=${var.region}", api=False)
    assert flagged.exit_code == 1 and "--var crm_key: ${var.region}: a variables file may use" in flagged.stderr, \
        flagged.all
    from_env = workspace.run("render", "--workspace", "staging", "--var", "crm_key=${env.PROD_CRM_KEY}", api=False)
    assert from_env.exit_code == 0 and SECRET not in from_env.all, from_env.all  # expanded where used, and secret


def test_other_workspaces_are_untouched(workspace, monkeypatch):
    setup(workspace, monkeypatch)
    rendered = workspace.run("render", "--workspace", "staging", api=False)
    assert rendered.exit_code == 0 and "api_key: staging-not-secret" in rendered.output


def test_an_env_value_never_names_an_object_of_any_kind(workspace, monkeypatch):
    """Another kind's name is shown in every view and the plan file as the assistant's is: it cannot be secret."""
    monkeypatch.setenv("FOLDER_NAME", "Sales-SECRET-NAME")
    workspace.dialect = "v2"
    workspace.write("manifests/groups.yaml", "apiVersion: provisioner/v1\nkind: Folder\nmetadata:\n  name: sales\n"
                    "spec:\n  name: ${env.FOLDER_NAME}\n")
    refused = workspace.run("plan", "--json")
    assert refused.exit_code == 1 and "spec.name is shown in plans" in refused.all, refused.all
    assert "SECRET-NAME" not in refused.all


def test_an_env_value_an_error_quotes_is_masked(workspace, monkeypatch):
    """A check on one field may quote the value of another (a folder looked up by a name from the environment)."""
    monkeypatch.setenv("FOLDER_LOOKUP", "Hidden-SECRET-Folder")
    workspace.dialect = "v2"
    workspace.add("a", folder_id={"name": "${env.FOLDER_LOOKUP}"})
    for args in (("plan",), ("plan", "--json")):
        result = workspace.run(*args)
        assert result.exit_code == 1 and "***" in result.all, result.all
        assert "SECRET" not in result.all
