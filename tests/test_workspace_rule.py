"""One workspace rule everywhere: `workspace new`, `workspace select --or-create` and plan refuse a workspace
that a repository with vars/ or overlays/ does not define, with the same "did you mean"."""
from test_overlays import overlay

REFUSAL = "workspace 'prdo' has no vars/prdo.yaml and no overlays/prdo/ (did you mean 'prod'?) (known: prod, staging)"


def repository(workspace):
    workspace.add("sales")
    workspace.write("vars/prod.yaml", "x: 1\n")
    workspace.write("overlays/staging/sales.yaml", overlay("sales", "spec: {record_call: true}\n"))


def test_workspace_new_and_select_or_create_refuse_what_plan_refuses(workspace):
    repository(workspace)
    for command in (("workspace", "new", "prdo"), ("workspace", "select", "--or-create", "prdo"),
                    ("plan", "--workspace", "prdo")):
        result = workspace.run(*command)
        assert result.exit_code == 1, (command, result.all)
        assert REFUSAL in result.stderr, (command, result.stderr)
    listed = workspace.run("workspace", "list").output
    assert "prdo" not in listed and workspace.run("workspace", "show").output.strip() == "default"


def test_the_workspaces_a_repository_defines_are_created_as_before(workspace):
    repository(workspace)
    assert workspace.run("workspace", "new", "prod", "--no-select").exit_code == 0
    selected = workspace.run("workspace", "select", "--or-create", "staging")
    assert selected.exit_code == 0 and "Created workspace 'staging'" in selected.output
    assert workspace.run("workspace", "list").output.split() == ["default", "prod", "*", "staging"]


def test_a_repository_without_vars_or_overlays_takes_any_workspace_name(workspace):
    workspace.add("sales")
    assert workspace.run("workspace", "new", "anything").exit_code == 0
    assert workspace.run("workspace", "select", "--or-create", "else").exit_code == 0


def test_select_takes_a_workspace_the_repository_defines_and_refuses_a_typo_with_its_suggestion(workspace):
    """docs/configuration.md: a workspace the repository defines is created on first use. `workspace select prod`
    refused it ("does not exist ... create it with: provisioner workspace new prod"), and `select prdo` advised
    `workspace new prdo`, which is itself refused."""
    repository(workspace)
    selected = workspace.run("workspace", "select", "prod")
    assert selected.exit_code == 0, selected.all
    assert "Created workspace 'prod'" in selected.output and "Switched to workspace 'prod'" in selected.output
    assert workspace.run("workspace", "list").output.split() == ["default", "*", "prod"]
    again = workspace.run("workspace", "select", "prod")
    assert again.exit_code == 0 and "Created" not in again.output
    typo = workspace.run("workspace", "select", "prdo")
    assert typo.exit_code == 1 and REFUSAL in typo.stderr, typo.all
    assert "prdo" not in workspace.run("workspace", "list").output


def test_select_still_needs_new_or_or_create_for_a_workspace_the_repository_does_not_define(workspace):
    workspace.add("sales")
    refused = workspace.run("workspace", "select", "qa")
    assert refused.exit_code == 1 and "create it with: provisioner workspace new qa" in refused.stderr, refused.all
    assert workspace.run("workspace", "list").output.split() == ["*", "default"]


def test_select_refuses_a_workspace_of_the_store_that_the_repository_does_not_define(workspace):
    """`workspace select prdo` of a workspace the store already holds (made before the repository had vars/ or
    overlays/) switched to it, though docs/configuration.md says the rule holds for select, and every command then
    refused it with the "did you mean" select should have given; refused the same way, nothing is changed."""
    workspace.add("sales")
    assert workspace.run("workspace", "new", "prdo", "--no-select").exit_code == 0
    repository(workspace)
    for command in (("workspace", "select", "prdo"), ("workspace", "select", "--or-create", "prdo")):
        refused = workspace.run(*command)
        assert refused.exit_code == 1 and REFUSAL in refused.stderr, (command, refused.all)
    assert workspace.run("workspace", "show").output.strip() == "default"
    assert workspace.run("workspace", "select", "prod").exit_code == 0
