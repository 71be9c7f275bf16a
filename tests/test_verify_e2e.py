"""End to end, the real CLI against the emulator over HTTP: verify after apply (docs/apply.md, Verify) finds a
field the platform answered 200 for but did not keep (the emulator's drop_fields fault)."""
from conftest import manifest_text  # noqa: F401  (the fixtures' module)


def tool(address, description):
    return (f"apiVersion: provisioner/v1\nkind: Tool\nmetadata:\n  name: {address}\nspec:\n  name: {address}\n"
            f"  description: {description}\n  endpoint: https://example.com/hook\n  method: POST\n")


def test_a_dropped_field_fails_the_apply_naming_address_field_and_values(workspace):
    workspace.add("support", system_prompt="First prompt.")
    created = workspace.run("apply", "--auto-approve")
    assert created.exit_code == 0, created.all
    assert "Verified: the platform shows every field sent to the 1 object(s) changed (1 list read(s))." in created.output
    workspace.platform.faults(drop_fields={"assistants": ["system_prompt"]})
    workspace.add("support", system_prompt="Second prompt.")
    applied = workspace.run("apply", "--auto-approve")
    assert applied.exit_code == 1
    assert ("Verify: support: spec.system_prompt was sent as 'Second prompt.' but the platform holds "
            "'First prompt.'") in applied.all
    assert "1 field(s) did not stick" in applied.all
    assert workspace.state()["resources"]["support"]["remote"]["system_prompt"] == "First prompt."
    again = workspace.run("plan", "--detailed-exitcode")
    assert again.exit_code == 2 and "Second prompt." in again.output
    skipped = workspace.run("apply", "--auto-approve", "--no-verify")
    assert skipped.exit_code == 0 and "Verif" not in skipped.all


def test_verify_covers_other_kinds_and_costs_one_list_read_per_changed_kind(workspace):
    workspace.write("manifests/tools.yaml", tool("lookup", "Finds an order.") + "---\n" + tool("status", "Says."))
    workspace.add("support")
    first = workspace.run("apply", "--auto-approve")
    assert first.exit_code == 0, first.all
    workspace.platform.faults(drop_fields={"tools": ["description"]})
    workspace.write("manifests/tools.yaml", tool("lookup", "Finds two orders.") + "---\n" + tool("status", "Tells."))
    before = workspace.platform.stats()["requests"]
    applied = workspace.run("apply", "--auto-approve")
    assert applied.exit_code == 1
    assert "Verify: tool.lookup: spec.description was sent as 'Finds two orders.'" in applied.all
    assert "Verify: tool.status: spec.description" in applied.all
    after = workspace.platform.stats()["requests"]
    lists = {route: after.get(route, 0) - before.get(route, 0) for route in after if route.startswith("GET") and
             "tool" in route}
    assert sum(lists.values()) == 2, lists  # the plan's list read, and verify's one


def test_drop_fields_refuses_unknown_kinds(workspace):
    answer = workspace.platform.admin.post("/_emulator/faults", json={"drop_fields": {"nokind": ["x"]}})
    assert answer.status_code == 422 and "unknown kind nokind" in answer.text


def test_compare_never_shows_a_sensitive_or_write_only_field():
    from provisioner.plan import Action, Change
    from provisioner.verify import compare

    change = Change("support", Action.UPDATE, "Support", remote_id=7, sensitive=["system_prompt"],
                    body={"system_prompt": "s3cret-prompt", "initial_message": "Hi", "tool_ids": [1]})
    shown = {"system_prompt": "old", "initial_message": "Hello", "tool_ids": [2]}
    [mismatch] = compare(change, change.body, shown, 7)
    assert (mismatch.field, mismatch.sent, mismatch.held) == ("initial_message", "Hi", "Hello")
    assert "s3cret" not in mismatch.line()


def test_verify_reads_into_manifest_fields_only_the_assistants_the_apply_changed(monkeypatch):
    # The list is read whole (one read, all pages), but only the changed assistants are turned into manifest
    # fields and compared: a small apply in a large account costs the list read, not a conversion of every item.
    from provisioner.apply import ApplyReport, ChangeResult
    from provisioner.plan import Action, Change
    from provisioner.planner import RemoteAssistant
    from provisioner.state import State
    from provisioner.verify import verify_apply

    converted = []
    real = RemoteAssistant.read_all.__func__
    monkeypatch.setattr(RemoteAssistant, "read_all",
                        classmethod(lambda cls, items, lookups: converted.extend(item["id"] for item in items)
                                    or real(cls, items, lookups)))

    class Listing:
        def list_assistants(self):
            return [{"id": n, "name": f"a{n}", "initial_message": "Hi" if n != 3 else "Hello"} for n in range(1, 51)]

    changed = Change("a3", Action.UPDATE, "a3", remote_id=3, body={"initial_message": "Hi"})
    report = ApplyReport(results=[ChangeResult(changed, True, 0.0, 3)])
    verification = verify_apply(report, Listing(), State.new())
    assert converted == [3] and verification.checked == 1
    [mismatch] = verification.mismatches
    assert (mismatch.field, mismatch.sent, mismatch.held) == ("initial_message", "Hi", "Hello")


def test_a_document_adopted_unchanged_sent_nothing_and_is_not_verified():
    # docs/apply.md: a document adopted unchanged counts as imported only (its body names its knowledge base, sent in
    # the path, which changes nothing), and verify reads back "what it changed": one list read per changed kind.
    # Such an adoption sends no request, so it is neither read back nor counted among the objects changed
    # ("Verified: ... sent to the 1 object(s) changed (1 list read(s))" followed "0 changed").
    from provisioner.apply import ApplyReport, ChangeResult
    from provisioner.plan import Action, Change
    from provisioner.verify import to_verify

    adopted = Change("knowledgebase.faq.pricing", Action.IMPORT, "Pricing", remote_id=12, kind="document",
                     body={"knowledgebase_id": 7})
    renamed = Change("knowledgebase.faq.hours", Action.IMPORT, "Hours", remote_id=13, kind="document",
                     body={"knowledgebase_id": 7, "name": "Opening hours"})
    report = ApplyReport(results=[ChangeResult(adopted, True, 0.0, 12), ChangeResult(renamed, True, 0.0, 13)])
    assert [change.address for change, _ in to_verify(report)] == ["knowledgebase.faq.hours"]


def test_a_field_that_did_not_stick_is_a_change_still_to_make_not_drift_that_pull_writes_back(workspace):
    """State recorded the sent value as applied: the next plan marked the field "changed on the platform outside
    the provisioner", and `pull` wrote the platform's old value over the manifest's edit (docs/pull.md: pull never
    undoes a local edit). What did not stick was never applied: it is the manifest's change, still to make."""
    workspace.add("support", system_prompt="First prompt.")
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.platform.faults(drop_fields={"assistants": ["system_prompt"]})
    workspace.add("support", system_prompt="Second prompt.")
    assert workspace.run("apply", "--auto-approve").exit_code == 1
    workspace.platform.faults(drop_fields={})
    plan = workspace.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2 and '"First prompt." -> "Second prompt."' in plan.output, plan.all
    assert "outside the provisioner" not in plan.output, plan.output
    pulled = workspace.run("pull", f"--api-url={workspace.platform.url}", "--detailed-exitcode", api=False)
    assert pulled.exit_code == 0 and "pulled system_prompt" not in pulled.output, pulled.all
    assert "Second prompt." in (workspace.root / "manifests" / "support.yaml").read_text()
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    assert workspace.run("plan", "--detailed-exitcode").exit_code == 0
