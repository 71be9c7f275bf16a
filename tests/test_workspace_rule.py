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
