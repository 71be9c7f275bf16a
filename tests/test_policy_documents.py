"""Policy documents and their CEL: a policy that does not compile, names an unknown field, gives no bool, exceeds
its cost or its time is an error with file and line, never a pass; the form's mistakes are named where they are."""
import textwrap

from hypothesis import given, settings, strategies as st

from conftest import manifest_text
from provisioner.policy import check, load_policies
from provisioner.workflow.manifests import validate
from provisioner.workflow.policies import check_offline


def write_policy(tmp_path, rules, match=""):
    path = tmp_path / "policies" / "p.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text("apiVersion: provisioner/v1\nkind: Policy\nmetadata:\n  name: p\nspec:\n" + match
                    + "  rules:\n" + textwrap.indent(rules, "    "))
    return str(path.parent)


def problems_of(tmp_path, rules, match=""):
    _, problems = load_policies([write_policy(tmp_path, rules, match)])
    return [str(p) for p in problems]


def evaluated(tmp_path, expression, **spec):
    rules, problems = load_policies([write_policy(tmp_path, f"- name: r\n  expression: {expression!r}\n")])
    assert not problems, problems
    manifest = tmp_path / "m.yaml"
    manifest.write_text(manifest_text("a", **spec))
    return check_offline(rules, validate([str(manifest)]), "default")


def test_a_syntax_error_names_file_line_and_column(tmp_path):
    [problem] = problems_of(tmp_path, "- name: r\n  expression: object.spec.x ==\n")
    assert problem.startswith(f"{tmp_path}/policies/p.yaml:8: rule p/r: expression does not compile: line 1, column")


def test_an_undeclared_variable_and_a_non_bool_are_compile_errors(tmp_path):
    problems = problems_of(tmp_path, "- name: r\n  expression: objet.spec.x == 1\n- name: s\n  expression: '1 + 2'\n"
                                     "- name: t\n  expression: 'true'\n  messageExpression: '42'\n")
    assert any("p.yaml:8: rule p/r: expression does not compile: line 1, column 11: undeclared reference to "
               "'objet.spec.x'" in p for p in problems)
    assert any("p.yaml:10: rule p/s: expression must give a bool, but gives INT" in p for p in problems)
    assert any("p.yaml:13: rule p/t: messageExpression must give a string" in p for p in problems)


def test_form_mistakes_are_named_at_their_line(tmp_path):
    problems = problems_of(tmp_path, "- name: r\n  expresion: 'true'\n- name: s\n  expression: 'true'\n"
                                     "  severity: block\n", match="  match: {kinds: [Robot]}\n")
    assert any("p.yaml:9: spec.rules.0.expresion: unknown key" in p for p in problems)
    assert any("p.yaml:12: spec.rules.1.severity: Input should be 'deny' or 'warn'" in p for p in problems)
    problems = problems_of(tmp_path, "- name: r\n  expression: 'true'\n", match="  match: {kinds: [Robot]}\n")
    assert any("p.yaml:6: match.kinds: 'Robot' is not a kind" in p for p in problems)
    problems = problems_of(tmp_path, "- name: r\n  expression: 'true'\n- name: r\n  expression: 'true'\n")
    assert any("two rules are named 'r'" in p for p in problems)


def test_an_unknown_key_is_named_with_the_keys_of_its_own_mapping_and_the_near_miss(tmp_path):
    """Every unknown key of a policy document was told "unknown key (a rule has name, expression, message, ...)",
    `spek:` at the top and `labels:` in metadata too, a list of keys that could not go there; and a missing one said
    pydantic's "Field required". Each now names the keys of the mapping it is in, the close one first."""
    path = tmp_path / "policies" / "p.yaml"
    path.parent.mkdir()
    path.write_text("apiVersion: provisioner/v1\nkind: Policy\nmetadata:\n  name: p\n  labels: {a: b}\nspek: {}\n"
                    "spec:\n  mach: {kinds: [Tool]}\n  rules:\n    - name: r\n      expresion: 'true'\n"
                    "      match: {kind: [Tool]}\n")
    _, problems = load_policies([str(path.parent)])
    assert sorted(str(p).replace(f"{path}:", "") for p in problems) == sorted([
        "5: metadata.labels: unknown key 'labels' (the keys here: name, description)",
        "6: spek: unknown key 'spek' (did you mean 'spec'?) (the keys here: apiVersion, kind, metadata, spec)",
        "8: spec.mach: unknown key 'mach' (did you mean 'match'?) (the keys here: match, rules)",
        "10: spec.rules.0.expression: is required",
        "11: spec.rules.0.expresion: unknown key 'expresion' (did you mean 'expression'?) (the keys here: name, "
        "expression, message, messageExpression, severity, match)",
        "12: spec.rules.0.match.kind: unknown key 'kind' (did you mean 'kinds'?) (the keys here: kinds, workspaces, "
        "labels, actions)"])


def test_an_unknown_field_is_an_error_never_a_pass(tmp_path):
    report = evaluated(tmp_path, "object.spec.max_call_durations < 900")
    assert report.blocks and not report.violations
    [error] = report.errors
    assert "rule p/r on a" in str(error) and "names an unknown field 'max_call_durations'" in str(error)
    assert report.to_dict()["rules"][0]["status"] == "error"


def test_a_field_left_unset_is_null_not_unknown(tmp_path):
    assert not evaluated(tmp_path, "object.spec.max_call_duration == null").blocks
    assert evaluated(tmp_path, "object.spec.max_call_duration == null", max_call_duration=60).denied


def test_a_result_that_is_not_a_bool_is_an_error(tmp_path):
    [error] = evaluated(tmp_path, "dyn(object.spec.system_prompt)").errors
    assert "gave str, not a bool" in error.message  # a text is not quoted: it may be (or hold) a secret


def test_a_hostile_expression_hits_the_cost_limit(tmp_path):
    expression = "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, " \
                 "[1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, true)))))"
    [error] = evaluated(tmp_path, expression).errors
    assert "exceeded its cost limit" in error.message


def test_nesting_beyond_the_parser_bound_does_not_compile(tmp_path):
    expression = "'ab'"
    for i in range(12):
        expression = f"[{expression}].map(v{i}, v{i} + v{i})[0]"
    [problem] = problems_of(tmp_path, f"- name: r\n  expression: {('size(' + expression + ') > 0')!r}\n")
    assert "does not compile" in problem and "recursion depth" in problem


def test_a_rule_over_its_time_budget_is_stopped_and_reported(tmp_path):
    rules, _ = load_policies([write_policy(tmp_path, "- name: r\n  expression: object.spec.x.all(i, i >= 0)\n")])
    from provisioner.policy import Subject

    subjects = [Subject(f"a{i}", "assistant", {}, None, {"spec": {"x": list(range(5000))}})
                for i in range(50)]
    report = check(rules, subjects, "default", time_limit=0.0)
    [error] = report.errors
    assert "timed out" in error.message and report.checked["p/r"] == 1


def test_an_erring_rule_does_not_hide_the_others(tmp_path):
    rules, problems = load_policies([write_policy(
        tmp_path, "- name: broken\n  expression: object.spec.nope == 1\n- name: cap\n  expression: "
                  "object.spec.max_call_duration == null || object.spec.max_call_duration < 100\n")])
    manifest = tmp_path / "m.yaml"
    manifest.write_text(manifest_text("a", max_call_duration=600) + "---\n" + manifest_text("b", max_call_duration=60))
    report = check_offline(rules, validate([str(manifest)]), "default")
    assert [e.rule.name for e in report.errors] == ["broken"]
    assert [v.address for v in report.violations] == ["a"]


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80))
def test_any_expression_text_compiles_or_is_a_problem_never_a_crash(tmp_path_factory, text):
    tmp_path = tmp_path_factory.mktemp("p")
    path = tmp_path / "p.yaml"
    import yaml

    path.write_text(yaml.safe_dump({"apiVersion": "provisioner/v1", "kind": "Policy", "metadata": {"name": "p"},
                                    "spec": {"rules": [{"name": "r", "expression": text}]}}))
    rules, problems = load_policies([str(path)])
    assert bool(rules) != bool(problems)
    if rules:
        subject_report = check(rules, [], "default")
        assert not subject_report.blocks


def test_validate_checks_policies_offline_in_text_and_json(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from provisioner.cli import cli

    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "a.yaml").write_text(manifest_text("a", max_call_duration=1200))
    write_policy(tmp_path, "- name: cap\n  expression: object.spec.max_call_duration <= 900\n"
                           "- name: hint\n  expression: object.spec.max_call_duration <= 600\n  severity: warn\n"
                           "- name: on-update\n  expression: 'false'\n  match: {actions: [update]}\n")
    monkeypatch.chdir(tmp_path)
    text = CliRunner().invoke(cli, ["validate"])
    assert text.exit_code == 1
    assert "Policies: 3 rule(s): 1 warned, 1 denied, 1 not-applicable." in text.stdout
    assert "manifests/a.yaml:1: a: denied by p/cap (policies/p.yaml:8)" in text.stderr
    as_json = CliRunner().invoke(cli, ["validate", "--json"])
    document = json.loads(as_json.stdout)
    assert as_json.exit_code == 1 and document["valid"] is False and document["errors"] == []
    assert [(r["rule"], r["status"]) for r in document["policies"]["rules"]] == [
        ("cap", "denied"), ("hint", "warned"), ("on-update", "not-applicable")]
    (tmp_path / "manifests" / "a.yaml").write_text(manifest_text("a", max_call_duration=300))
    fine = CliRunner().invoke(cli, ["validate"])
    assert fine.exit_code == 0 and "Success! 1 manifest(s) are valid." in fine.stdout


def test_the_policy_dir_option_is_in_every_command_help_and_wins_over_the_default(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from provisioner.cli import cli

    for command in ("validate", "plan", "apply"):
        assert "--policy-dir PATH" in CliRunner().invoke(cli, [command, "--help"]).stdout
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "a.yaml").write_text(manifest_text("a"))
    write_policy(tmp_path, "- name: never\n  expression: 'false'\n")
    other = tmp_path / "other"
    other.mkdir()
    (other / "ok.yaml").write_text("apiVersion: provisioner/v1\nkind: Policy\nmetadata:\n  name: ok\nspec:\n"
                                   "  rules:\n    - {name: always, expression: 'true'}\n")
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(cli, ["validate"]).exit_code == 1
    assert CliRunner().invoke(cli, ["validate", "--policy-dir", "other"]).exit_code == 0
    (tmp_path / "provisioner.yaml").write_text("policies: [other]\n")
    assert CliRunner().invoke(cli, ["validate"]).exit_code == 0


def test_objects_carry_only_the_spec_fields_the_rules_read_unless_a_rule_takes_them_whole():
    from provisioner.policy.engine import spec_fields_used

    assert spec_fields_used(["object.spec.max_duration <= 600", "oldObject.spec.system_prompt == "
                             "object.spec.system_prompt || 'ticket' in object.metadata.labels"]) == \
        {"max_duration", "system_prompt"}
    assert spec_fields_used(["object.kind == 'Tool' && object.address != ''"]) == set()
    for whole in ('object.spec["max_duration"] > 1', "object == oldObject", "has(object.spec)",
                  "object.spec.all(k, k != 'x')", "size(object) > 0"):
        assert spec_fields_used(["object.spec.language != ''", whole]) is None, whole


def test_a_rule_matches_documents_by_the_kind_their_objects_read(tmp_path):
    """An object's kind reads `Document` (docs/policies.md), but `match: {kinds: [Document]}` was refused as
    "not a kind": only kinds with a manifest of their own (and lowercase address names) were known."""
    rules, problems = load_policies([write_policy(tmp_path, "- name: r\n  expression: object.kind != 'Document'\n",
                                                  match="  match: {kinds: [Document]}\n")])
    assert not problems, [str(p) for p in problems]
    manifest = tmp_path / "kb.yaml"
    manifest.write_text("apiVersion: provisioner/v1\nkind: KnowledgeBase\nmetadata:\n  name: faq\nspec:\n"
                        "  name: FAQ\n  documents:\n"
                        "    - {name: Pricing, key: pricing, type: website, url: 'https://example.com/p'}\n")
    report = check_offline(rules, validate([str(manifest)], "v2"), "default")
    assert [(v.address, v.kind) for v in report.violations] == [("knowledgebase.faq.pricing", "document")]
    assert "'Documents' is not a kind (one of Assistant, Campaign, Document," in problems_of(
        tmp_path, "- name: r\n  expression: 'true'\n", match="  match: {kinds: [Documents]}\n")[0]


def test_rules_that_compile_alone_but_not_together_are_evaluated_alone(tmp_path):
    """Every rule that selects an object is evaluated as one CEL list; a rule nested 31 deep compiles alone but is
    one level too deep inside that list, and 2,000 short rules exceed cel-cpp's 100,000 characters together: the
    run stopped on 'unexpected RuntimeError ... a bug in the provisioner'."""
    deep = "(" * 31 + "object.spec.max_call_duration == null" + ")" * 31
    rules, problems = load_policies([write_policy(tmp_path, f"- name: deep\n  expression: {deep!r}\n"
                                                            "- name: other\n  expression: 'false'\n")])
    assert not problems, [str(p) for p in problems]
    manifest = tmp_path / "m.yaml"
    manifest.write_text(manifest_text("a"))
    report = check_offline(rules, validate([str(manifest)]), "default")
    assert not report.errors and [v.rule.name for v in report.violations] == ["other"]
    many = "".join(f"- name: r{i}\n  expression: 'object.spec.max_call_duration == null || "
                   f"object.spec.max_call_duration <= {i}'\n" for i in range(1500))
    rules, problems = load_policies([write_policy(tmp_path, many)])
    assert not problems and len(rules) == 1500
    report = check_offline(rules, validate([str(manifest)]), "default")
    assert not report.errors and not report.violations and report.checked["p/r0"] == 1


def test_a_message_is_shown_without_what_a_terminal_would_act_on(tmp_path):
    """A messageExpression may quote a manifest's value: an escape sequence (clear the screen, set the title) or a
    carriage return reached the terminal as it was, in the plan's text and in the error that stops the run, where
    a manifest's own problems are shown escaped."""
    from provisioner.render import policies_text
    from provisioner.workflow.policies import blocking_message

    rules, problems = load_policies([write_policy(
        tmp_path, "- name: r\n  expression: 'false'\n"
                  "  messageExpression: \"'bad \\\\x1b[2J\\\\x1b]0;title\\\\x07 ' + object.spec.system_prompt\"\n")])
    assert not problems, [str(p) for p in problems]
    manifest = tmp_path / "m.yaml"
    manifest.write_text(manifest_text("a", system_prompt="ok\rall fine"))
    report = check_offline(rules, validate([str(manifest)]), "default")
    assert report.violations[0].message == "bad \x1b[2J\x1b]0;title\x07 ok\rall fine"  # the JSON keeps it as it is
    for shown in (policies_text(report.to_dict()), blocking_message(report)):
        assert "\x1b[2J" not in shown and "\x07" not in shown and "\r" not in shown
        assert "bad \\x1b[2J\\x1b]0;title\\x07 ok\\rall fine" in shown


def _string_bomb(levels: int = 9, copies: int = 8) -> str:
    """A 360-character rule whose nested maps each join `copies` copies of the last level's string: 16 * 8^9
    bytes (2 GiB) at the innermost level, within CEL's nesting bound and far below 10,000 iterations."""
    expression = ""
    for i in range(levels):
        expression += f".map(v{i}, [{'+'.join([f'v{i}'] * copies)}]"
    expression += f".map(v{levels}, v{levels}.size())" + ")" * levels
    return "['xxxxxxxxxxxxxxxx']" + expression + " != []"


def test_a_rule_that_builds_a_huge_string_is_stopped_by_its_memory_bound(tmp_path):
    """Run by a child under a 6 GiB address-space limit (so that an unbounded evaluation fails here with
    MemoryError instead of taking the machine's memory): the rule is reported as an error of its policy, with
    its file and line, exit 1, no traceback."""
    import os
    import subprocess
    import sys

    write_policy(tmp_path, f"- name: r\n  expression: {_string_bomb()!r}\n")
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "a.yaml").write_text(manifest_text("a"))
    launch = ("import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30)); "
              "sys.argv = ['provisioner', 'validate']; runpy.run_module('provisioner', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", launch], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PROVISIONER_RATE_LIMIT": "off"})
    said = result.stdout + result.stderr
    assert result.returncode == 1, said
    assert "Traceback" not in said and "bad_alloc" not in said, said
    assert "policies/p.yaml:8: rule p/r on a" in said and "exceeded its memory limit" in said, said


def test_an_invalid_pattern_from_a_secret_is_not_quoted_in_the_error(tmp_path):
    """RE2 quotes a bad pattern from where it fails on: a part of the password, not the whole, so the redaction
    of whole secrets would miss it."""
    from provisioner.policy import Subject

    rule = "- name: r\n  expression: \"'x'.matches(object.spec.sip_password)\"\n"
    rules, problems = load_policies([write_policy(tmp_path, rule)])
    assert not problems, problems
    seen = {"kind": "SipTrunk", "address": "siptrunk.a", "metadata": {"name": "a", "labels": {}},
            "spec": {"sip_password": "Zq9[SECRETPART"}}
    report = check(rules, [Subject("siptrunk.a", "siptrunk", {}, None, seen, frozenset({"sip_password"}))], "w")
    [error] = report.errors
    assert "SECRETPART" not in str(error) and "invalid regular expression: missing ]" in str(error), str(error)


def _slow_rule(levels: int = 6) -> str:
    """10,000 regular-expression scans of a 4 MB string the rule builds: about a minute in one evaluation."""
    scans = "[" + ",".join(map(str, range(100))) + "]"
    expression = ""
    for i in range(levels):
        expression += f".map(v{i}, [{'+'.join([f'v{i}'] * 8)}]"
    expression += (f".map(v{levels}, {scans}.all(i, {scans}.all(j, !v{levels}.matches('(a|b)*c'))))"
                   + ")" * levels)
    return "['xxxxxxxxxxxxxxxx']" + expression + "[0]" * (levels + 1)


def test_one_evaluation_longer_than_the_time_limit_is_stopped_and_the_other_rules_still_checked(tmp_path):
    """cel-cpp cannot be interrupted and holds the GIL: one evaluation of this rule (about a minute) ran to its end
    before the time limit was looked at."""
    import time

    slow = _slow_rule()
    rules, problems = load_policies([write_policy(
        tmp_path, f"- name: slow\n  expression: {slow!r}\n- name: cap\n  expression: object.spec.x < 10\n")])
    assert not problems, problems
    from provisioner.policy import Subject

    subjects = [Subject(f"a{i}", "assistant", {}, None, {"spec": {"x": i}}) for i in range(20)]
    started = time.monotonic()
    report = check(rules, subjects, "default", time_limit=1.0)
    assert time.monotonic() - started < 15
    [error] = report.errors
    assert error.rule.name == "slow" and "timed out" in error.message and "(on a0)" in error.message
    assert [v.address for v in report.violations] == [f"a{i}" for i in range(10, 20)]
    assert report.to_dict()["rules"][1]["status"] == "denied"


def test_a_value_cel_cannot_hold_is_an_error_that_quotes_none_of_the_object(tmp_path):
    """A variable of 20 digits: cel-cpp's error named where it met it by the repr of the whole spec, a secret with
    a backslash (escaped there, so not found by the redaction of whole secrets) and the prompt included."""
    from provisioner.policy import Subject

    rules, problems = load_policies([write_policy(tmp_path, "- name: r\n  expression: \"object.spec['x'] == 1\"\n")])
    assert not problems, problems
    seen = {"kind": "Assistant", "address": "a", "metadata": {"name": "a", "labels": {}},
            "spec": {"initial_message": "pa\\ss-TOPSECRET", "system_prompt": "PRIVATE PROMPT",
                     "variables": {"big": 10 ** 20}, "x": 1}}
    report = check(rules, [Subject("a", "assistant", {}, None, seen, frozenset({"initial_message"}))], "w")
    [error] = report.errors
    assert "TOPSECRET" not in error.message and "PRIVATE" not in error.message, error.message
    assert error.message == ("meets a number CEL cannot hold (100000000000000000000: more than 64 bits) at "
                             "object.spec.variables.big")


def test_a_sigterm_during_a_slow_rule_ends_the_run_and_its_evaluating_child(tmp_path):
    """A pipeline's cancel: the CLI's SIGTERM handler runs (it waited for the evaluation before, a minute and
    more), and the child evaluating the rule does not go on alone."""
    import os
    import signal
    import subprocess
    import sys
    import time

    write_policy(tmp_path, f"- name: slow\n  expression: {_slow_rule()!r}\n")
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "a.yaml").write_text(manifest_text("a"))
    run = subprocess.Popen([sys.executable, "-m", "provisioner", "validate"], cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    children = []
    for _ in range(100):
        time.sleep(0.05)
        children = (subprocess.run(["pgrep", "-P", str(run.pid)], capture_output=True, text=True).stdout.split())
        if children:
            break
    assert children, "no child evaluates the rules"
    time.sleep(0.5)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=10)
    assert run.returncode == 143 and "Terminated (SIGTERM)" in err, err
    time.sleep(0.5)
    alive = [child for child in children if _running_process(child)]
    for child in alive:
        os.kill(int(child), signal.SIGKILL)
    assert not alive, f"the child {alive} went on evaluating after its parent ended"


def _running_process(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")  # a zombie has ended
    except FileNotFoundError:
        return False


def test_the_parent_never_reads_a_progress_record_half_written(tmp_path, monkeypatch):
    """The parent watching the evaluating child read its progress record while the child wrote it: the write
    first zeroed the record, and the parent saw rule 0 on the first object started at time 0, hours over its
    budget. On an 8,000-assistant fleet, 60 rules timed out at random (up to nine a run, each stopping the run
    and starting the check again); here the parent looks at the record without pause, and no rule times out."""
    import sys

    monkeypatch.setattr(sys.modules["provisioner.policy.check"], "POLL_SECONDS", 0)
    rules, problems = load_policies([write_policy(tmp_path, "".join(
        f"- name: r{i}\n  expression: object.spec.x < {i * 50}\n" for i in range(40)))])
    assert not problems, problems
    from provisioner.policy import Subject

    subjects = [Subject(f"a{i}", "assistant", {}, None, {"spec": {"x": i}}) for i in range(2000)]
    report = check(rules, subjects, "default")
    assert report.errors == []
    assert len(report.violations) == sum(i >= n * 50 for n in range(40) for i in range(2000))


def test_the_report_counts_each_rules_violations_in_one_pass(tmp_path, monkeypatch):
    """The report's rule table looked through every violation and every error for each rule, twice, composing the
    rule's id each time: 240 rules over 2,000 assistants (80,000 violations) took 15 s to tabulate, on every plan
    with policies. Each violation's rule is now looked at once, whatever the number of rules."""
    from provisioner.policy import PolicyReport
    from provisioner.policy.check import RuleError, Violation
    from provisioner.policy.document import Rule

    rules, problems = load_policies([write_policy(tmp_path, "".join(
        f"- name: r{i}\n  expression: object.spec.x < {i}\n" + "  severity: warn\n" * (i % 2) for i in range(100)))])
    assert not problems, problems
    violations = [Violation(rules[i % 50], f"a{i}", "assistant", None, "no", None) for i in range(5000)]
    errors = [RuleError(rules[60], "a1", None, "broken")]
    checked = {rule.id: 7 for rule in rules[:90]}
    reads = 0
    composed = Rule.id.fget

    def counted(rule):
        nonlocal reads
        reads += 1
        return composed(rule)

    monkeypatch.setattr(Rule, "id", property(counted))
    table = PolicyReport(rules, checked, violations, errors).to_dict()
    assert reads <= len(violations) + len(errors) + 5 * len(rules)
    statuses = [rule["status"] for rule in table["rules"]]
    assert statuses == (["denied", "warned"] * 25 + ["passed"] * 10 + ["error"] + ["passed"] * 29
                        + ["not-applicable"] * 10)
    assert [rule["violations"] for rule in table["rules"]] == [100] * 50 + [0] * 50
    assert table["summary"] == {"passed": 39, "warned": 25, "denied": 25, "error": 1, "not-applicable": 10}
