"""The token and URL credentials never reach output: validated without being shown, scrubbed as a last
line of defence, and never sent in cleartext to another machine."""
from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, strategies as st

from provisioner.errors import ProvisionerError
from provisioner.scrub import forget_secrets, register_secret, register_url, scrub
from provisioner.workflow.connection import check_api_url, read_token
from provisioner.workflow.settings import Settings

SECRET = "tok-VERY-SECRET-91f2"


@pytest.fixture(autouse=True)
def _fresh_secrets():
    forget_secrets()
    yield
    forget_secrets()


def test_scrub_masks_registered_secrets_url_credentials_and_query_secrets():
    register_secret(SECRET)
    text = (f"failed: Bearer {SECRET} at https://admin:hunter2@platform.example/api?api_key=abc123&page=2 "
            f"and {SECRET}")
    cleaned = scrub(text)
    for secret in (SECRET, "hunter2", "admin:", "abc123"):
        assert secret not in cleaned
    assert "page=2" in cleaned and "platform.example/api" in cleaned


def test_a_secret_is_masked_as_json_and_python_messages_escape_it_too():
    register_secret('ab"c\\d\x01e')
    assert scrub(json.dumps({"m": 'x ab"c\\d\x01e y'})) == json.dumps({"m": "x *** y"})
    assert "***" in scrub(repr('ab"c\\d\x01e'))


def test_a_secret_with_non_ascii_and_a_character_json_escapes_is_masked_as_the_views_write_it(workspace, monkeypatch):
    """A secret was registered as JSON writes it only with non-ASCII escaped (`c\\u00f6de\\"42`), but `plan --json`
    and the text view write non-ASCII as it is (`cöde\\"42`): a `${env.PIN}` value 'cöde"42' that a prompt elsewhere
    also says was printed in clear by both, and by `plan --json` even where another secret of the plan was masked
    (the document written a change at a time rewrites only the pieces whose text scrub changes)."""
    monkeypatch.setenv("PIN", 'cöde"42')
    monkeypatch.setenv("HOOK_KEY", "plainpin99")
    workspace.add("a", initial_message='Never say cöde"42', is_webhook_active=True,
                  webhook_url="https://hooks.example.com/calls?key=${env.HOOK_KEY}&pin=${env.PIN}")
    workspace.add("b", initial_message="Never say plainpin99")
    for args in (("plan", "--json"), ("plan",)):
        result = workspace.run(*args)
        assert result.exit_code == 0, result.all
        assert "cöde" not in result.all and "plainpin99" not in result.all, result.all
    assert json.loads(workspace.run("plan", "--json").output)["masked"] is True


def test_register_url_masks_its_password_even_outside_a_url():
    register_url("https://bob:pa55word@platform.example/api?token=zzz999")
    assert "pa55word" not in scrub("password was pa55word") and "zzz999" not in scrub("zzz999")


@pytest.mark.parametrize("content, problem", [
    (f"{SECRET[:8]}\n{SECRET[8:]}\n", "contains whitespace"),
    (f"{SECRET[:8]} {SECRET[8:]}", "contains whitespace"),
    (f"{SECRET[:8]}\x07{SECRET[8:]}", "contains a control character"),
    (f"{SECRET}é", "contains a non-ASCII character"),
    ("\n\n", "is empty"),
])
def test_a_malformed_token_is_refused_without_being_shown(tmp_path, content, problem):
    path = tmp_path / "token"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(ProvisionerError) as caught:
        read_token(Settings(token_file=str(path)))
    message = str(caught.value)
    assert problem in message
    for part in (SECRET, SECRET[:8], SECRET[8:]):
        assert part not in message


def test_a_trailing_newline_is_stripped(tmp_path):
    path = tmp_path / "token"
    path.write_text(SECRET + "\r\n")
    path.chmod(0o600)
    assert read_token(Settings(token_file=str(path))) == SECRET


def test_a_token_file_readable_by_others_is_warned_about(tmp_path, capsys):
    path = tmp_path / "token"
    path.write_text(SECRET)
    path.chmod(0o644)
    read_token(Settings(token_file=str(path)))
    err = capsys.readouterr().err
    assert "readable by other users (mode 0644)" in err and "chmod 600" in err and SECRET not in err
    path.chmod(0o640)
    read_token(Settings(token_file=str(path)))
    assert "readable by its group" in capsys.readouterr().err
    path.chmod(0o600)
    read_token(Settings(token_file=str(path)))
    assert capsys.readouterr().err == ""


def test_a_huge_or_special_token_file_is_refused(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(b"a" * 100_000)
    with pytest.raises(ProvisionerError, match="larger than"):
        read_token(Settings(token_file=str(big)))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # no writer: a blocking open would hang here
    with pytest.raises(ProvisionerError, match="not a regular file"):
        read_token(Settings(token_file=str(fifo)))


@pytest.mark.parametrize("url, allowed", [
    ("https://platform.example/api", True),
    ("http://127.0.0.1:8787/api", True),
    ("http://localhost:8787", True),
    ("http://[::1]:8787", True),
    ("http://platform.example/api", False),
    ("http://10.0.0.5/api", False),
    ("http://127.0.0.1.evil.example/api", False),
])
def test_plain_http_only_to_this_machine_unless_insecure_http(url, allowed):
    if allowed:
        assert check_api_url(url) == url
    else:
        with pytest.raises(ProvisionerError, match="--insecure-http"):
            check_api_url(url)
        assert check_api_url(url, insecure_http=True) == url


@pytest.mark.parametrize("url", ["ftp://platform.example", "platform.example", "http://:80", "https://h:port/",
                                 "https://platform.example/api\n", "https://platform .example"])
def test_a_url_that_is_not_http_is_refused(url):
    with pytest.raises(ProvisionerError):
        check_api_url(url)


def test_cli_never_shows_a_malformed_token_even_with_json(workspace):
    workspace.add("a")
    token_file = workspace.write("token", f"{SECRET[:8]}\n{SECRET[8:]}\n")
    token_file.chmod(0o600)
    for args in (("plan", f"--token-file={token_file}"), ("plan", "--json", f"--token-file={token_file}")):
        result = workspace.run(*args)
        assert result.exit_code == 1 and "contains whitespace" in result.stderr
        for part in (SECRET[:8], SECRET[8:]):
            assert part not in result.all
    assert json.loads(workspace.run("plan", "--json", f"--token-file={token_file}").output)["errors"]
    assert workspace.platform.stats()["total"] == 0


def test_cli_refuses_cleartext_http_to_another_host_before_any_request(workspace):
    workspace.add("a")
    result = workspace.run("plan", "--api-url=http://platform.invalid/api", api=False)
    assert result.exit_code == 1 and "--insecure-http" in result.stderr and "unencrypted" in result.stderr


def test_cli_never_echoes_url_credentials(workspace):
    workspace.add("a")
    for url in ("http://admin:hunter2pass@127.0.0.1:9/api", "http://127.0.0.1:9/api?api_key=qq-SECRET-qq"):
        for extra in ((), ("--json",)):
            result = workspace.run("plan", f"--api-url={url}", "--max-retries=1", *extra, api=False)
            assert result.exit_code == 1, result.all
            assert "hunter2pass" not in result.all and "qq-SECRET-qq" not in result.all


def test_unexpected_errors_in_main_are_scrubbed_and_have_no_traceback(monkeypatch, capsys):
    import provisioner.cli as cli_module

    register_secret(SECRET)

    def explode(**kwargs):
        raise RuntimeError(f"header Authorization: Bearer {SECRET}")

    monkeypatch.setattr(cli_module.cli, "main", explode)
    monkeypatch.setattr(cli_module, "pause_collection", lambda: None)  # the test process keeps collecting
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert SECRET not in err and "Traceback" not in err and "unexpected RuntimeError" in err


def test_a_secret_registered_between_two_scrubs_is_masked_by_the_second_and_longest_first():
    # scrub keeps the registered secrets sorted between registrations instead of sorting them per line.
    assert scrub(f"one {SECRET} two") == f"one {SECRET} two"
    register_secret(SECRET[:8])
    register_secret(SECRET)
    assert scrub(f"one {SECRET} two {SECRET[:8]}") == "one *** two ***"
    forget_secrets()
    assert scrub(f"one {SECRET}") == f"one {SECRET}"
    # Each pattern applies whatever literal it needs is present: only the lines without it are left alone.
    assert scrub("Bearer abcdefgh and http://u:p@h/x?token=zzzz") == "Bearer *** and http://***@h/x?token=***"


@given(st.text(alphabet="ab:/@?&;=Bearer tokenkey \n.", max_size=80))
def test_scrub_with_its_literal_pre_checks_is_every_pattern_applied(text):
    """scrub looks for each pattern's literals (`://` and `@`, `=`, `Bearer`) before running it: never a
    different answer from running every pattern."""
    from provisioner import scrub as S

    forget_secrets()  # the patterns alone: no secret another test registered
    expected = S._URL_CREDENTIALS.sub(lambda m: m.group(1) + S.MASK + "@", text)
    expected = S._QUERY_SECRET.sub(S._keep_name, expected)
    expected = S._BEARER.sub(lambda m: m.group(1) + m.group(2) + S.MASK, expected)
    assert S.scrub(text) == expected


def test_apply_and_destroy_show_their_plan_scrubbed_as_plan_does(workspace):
    # The API token is registered as a secret once read: a manifest value that happens to hold it (a prompt
    # pasted with it) is masked in the plan that apply and destroy print, as in plan's own output.
    from tests.conftest import TOKEN

    workspace.add("a", system_prompt=f"Call with {TOKEN} please.")
    planned = workspace.run("plan")
    assert planned.exit_code == 0 and "Call with *** please." in planned.output
    applied = workspace.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.all
    assert TOKEN not in applied.all and "Call with *** please." in applied.output
    for command in (("show",), ("destroy", "--auto-approve")):  # a destroy's plan shows no field values
        result = workspace.run(*command)
        assert result.exit_code == 0 and TOKEN not in result.all, result.all


@given(st.text(alphabet="ab?&;=tokenkey_- \n", max_size=3000))
def test_query_secrets_are_masked_where_a_mark_begins_them_as_one_regex_pass_masks_them(text):
    """scrub finds the query secrets' beginnings (`?`, `&`, `;`) with str.find, or runs the regex over text dense
    with them: the same text as the regex's own substitution, either way."""
    from provisioner import scrub as S

    assert S._mask_query_secrets(text) == S._QUERY_SECRET.sub(S._keep_name, text)
    sparse = "x" * 200 * len(text) + text  # few marks for its length: the str.find path
    assert S._mask_query_secrets(sparse) == S._QUERY_SECRET.sub(S._keep_name, sparse)


@pytest.mark.parametrize("text", [
    "https://blog.example.com/posts?author=jane&keyword=pricing&design=x&signup=1&authority=3",
    "https://api.example.com/v1/chat?max_tokens=500&keys=3&monkey_id=42&hotkey=f5&sessions=2&session_count=4",
    "https://example.com/help?contact=help@example.com",
    "Bearer bonds are safe",
])
def test_ordinary_text_is_not_masked(text):
    """A query name that merely held a secret's word (`author`, `keyword`, `design`) had its value masked, an email
    address in a query was taken for a URL's user, "Bearer bonds" for a token: plan showed `***` for ordinary
    text, and pull refused to write it as a credential."""
    from provisioner import scrub as S

    assert S.scrub(text) == text


@pytest.mark.parametrize("text, masked", [
    ("https://a:pw@h.com/x?api_key=SEKRET&access_token=T0K&X-Amz-Signature=abc&session_id=zz&sig=qq&sid=1",
     "https://***@h.com/x?api_key=***&access_token=***&X-Amz-Signature=***&session_id=***&sig=***&sid=***"),
    ("Authorization: Bearer sk_live_abc123", "Authorization: Bearer ***"),
    ("https://bob:s3c?ret@api.example.com/x", "https://***@api.example.com/x"),  # a password holding a `?`
    ("?authorization=Basic%20abc&api_key_value=sk1&credentials=x&secrets=y&token_value=z&private_key_pem=w",
     "?authorization=***&api_key_value=***&credentials=***&secrets=***&token_value=***&private_key_pem=***"),
    ("?apikey=a1&accessToken=b2&x-api-key=c3&refresh_token=d4&client_secret=e5&pwd=f6",
     "?apikey=***&accessToken=***&x-api-key=***&refresh_token=***&client_secret=***&pwd=***"),
    ("?sessionToken=a1&secretKey=b2&SecretAccessKey=c3&mytoken=d4&dbpassword=e5&SharedAccessSignature=f6",
     "?sessionToken=***&secretKey=***&SecretAccessKey=***&mytoken=***&dbpassword=***&SharedAccessSignature=***"),
    ("?access_key_id=a1&api_keys=b2&session=c3&sessionid=d4&X-Amz-Security-Token=e5",
     "?access_key_id=***&api_keys=***&session=***&sessionid=***&X-Amz-Security-Token=***"),
])
def test_the_names_secrets_go_by_are_still_masked(text, masked):
    from provisioner import scrub as S

    assert S.scrub(text) == masked


def run_through_proxy(workspace, answer, *args):
    """The command through a rewriting proxy before the emulator: `answer(method, path, sent)` may replace the
    answer to a write (None: the platform's own), `sent` being the body the write carried."""
    from rewriting_proxy import RewritingProxy
    from test_misbehaving_answers import through

    bodies: dict[tuple[str, str], bytes] = {}

    def keep(method, path, body):
        bodies[(method, path)] = body
        return body

    def rewrite(method, path, status, body):
        return answer(method, path, (bodies.get((method, path)) or b"").decode())

    with RewritingProxy(workspace.platform.url, rewrite) as proxy:
        proxy.edit_request = keep
        return through(workspace, proxy, *args)


def tool_text(endpoint: str = "https://api.example.com/orders", headers: str = "") -> str:
    return ("apiVersion: provisioner/v1\nkind: Tool\nmetadata: {name: lookup}\nspec:\n  name: lookup\n"
            f"  description: Look up an order.\n  endpoint: {endpoint}\n  method: GET\n"
            + (f"  headers: {{{headers}}}\n" if headers else ""))


def test_a_rejection_quoting_the_request_body_never_shows_a_literal_sensitive_value(workspace):
    """A platform (or gateway) that rejects a write may quote the body it got. A sensitive value written in the
    manifest itself (no ${env.X}, so nothing registered it) is masked there like one from the environment: a
    tool's header value, a SIP trunk's password, a Cal.com key in an assistant's tools."""
    header, password, calcom = "hdr-LITERAL-5e1a", "sip-LITERAL-77c2", "cal-LITERAL-90d3"
    workspace.dialect = "v2"
    workspace.write("manifests/kinds.yaml", tool_text(headers=f"X-Api-Key: {header}") + f"""\
---
apiVersion: provisioner/v1
kind: SipTrunk
metadata: {{name: office}}
spec:
  sip_trunk_type: number
  phone_number: "+14155551234"
  sip_username: office
  sip_password: {password}
  sip_address: sip.provider.com
  sip_calling_format: "+e164"
  inbound_authorization_type: auth
  country_code: US
""")
    workspace.add("caller", tools=[{"type": "calendar_integration", "calcom_api_key": calcom,
                                    "calcom_event_slug": "demo"}])

    def echo(method, path, sent):  # every write refused, quoting what it was sent
        if method in ("POST", "PUT"):
            return 422, json.dumps({"message": f"Invalid request: {sent}",
                                    "errors": {"body": [f"bad request: {sent}"]}}).encode(), "application/json"
        return None

    applied = run_through_proxy(workspace, echo, "apply", "--auto-approve", "--max-retries=1")
    assert applied.exit_code == 1 and "Invalid request" in applied.all, applied.all
    assert "sip_password" in applied.all and "calcom_api_key" in applied.all, applied.all  # both were quoted
    for secret in (header, password, calcom):
        assert secret not in applied.all, (secret, applied.all)


def test_a_failing_update_quoting_its_body_never_shows_a_literal_sensitive_value_in_its_retry_notices(workspace):
    """An update is retried after a 5xx, and each retry notice quotes the answer: a body the platform quoted back
    showed a literal header value there (the apply's error message was masked, the notices were not)."""
    old, new = "hdr-OLD-61f0", "hdr-NEW-29c4"
    workspace.dialect = "v2"
    workspace.write("manifests/tool.yaml", tool_text(headers=f"X-Api-Key: {old}"))
    assert workspace.run("apply", "--auto-approve").exit_code == 0
    workspace.write("manifests/tool.yaml", tool_text(headers=f"X-Api-Key: {new}"))

    def fail(method, path, sent):  # every update fails, quoting what it was sent
        if method == "PUT":
            return 500, json.dumps({"message": f"Server error while saving: {sent}"}).encode(), "application/json"
        return None

    applied = run_through_proxy(workspace, fail, "apply", "--auto-approve", "--max-retries=2",
                                "--retry-backoff=0.01s")
    assert applied.exit_code == 1 and "retrying in" in applied.all and "X-Api-Key" in applied.all, applied.all
    assert new not in applied.all and old not in applied.all, applied.all


def test_a_field_carrying_url_credentials_is_kept_as_a_digest_in_state_and_saved_plans(workspace):
    """A tool's endpoint or an assistant's text with https://user:pass@host/?api_key=... is a secret by its
    content (pull and export already treat it so): output only scrubbed it, while state, `state pull`,
    `state show` and the saved plan held the URL in clear."""
    password, key, in_text = "ep-PASS-4c1d", "ep-KEY-8a2f", "msg-KEY-3b7e"
    workspace.write("manifests/tool.yaml", tool_text(f"https://orders:{password}@api.example.com/orders?api_key={key}"))
    workspace.add("caller", initial_message=f"Hi, see https://example.com/status?token={in_text}")
    planned = workspace.run("plan", "--out", "saved.plan")
    assert planned.exit_code == 0, planned.all
    applied = workspace.run("apply", "saved.plan")
    assert applied.exit_code == 0, applied.all
    [tool] = workspace.platform.http.get("/user/tools").json()
    assert tool["endpoint"].endswith(f"?api_key={key}")  # the platform got the real value
    assert workspace.run("plan", "--detailed-exitcode").exit_code == 0  # and no false drift
    texts = [workspace.root.joinpath("saved.plan").read_text(), workspace.state_file.read_bytes().decode("latin-1"),
             workspace.run("state", "pull").output, workspace.run("state", "show", "tool.lookup").all,
             workspace.run("state", "show", "caller").all]
    for secret in (password, key, in_text):
        assert not any(secret in text for text in texts), secret
    assert "endpoint    = (sensitive)" in planned.output, planned.output


@pytest.mark.parametrize("secret", ["false", "1000", "null"])
def test_json_output_stays_json_whatever_a_secret_is(workspace, monkeypatch, secret):
    """The JSON documents were scrubbed as text: a `${env.X}` value that is also a JSON literal or part of a number
    (a password `false`, a numeric PIN) was masked there too, and `plan --json` printed invalid JSON with exit 0."""
    monkeypatch.setenv("HOOK_KEY", secret)
    workspace.add("a", max_call_duration=1000, is_webhook_active=True,
                  webhook_url="https://hooks.example.com/calls?key=${env.HOOK_KEY}")
    for args in (("plan", "--json"), ("plan", "--json", "--out", "a.plan")):
        result = workspace.run(*args)
        assert result.exit_code == 0, result.all
        document = json.loads(result.output)
        assert document["summary"]["add"] == 1 and document["destroy"] is False
    shown = workspace.run("show", "--json", "a.plan", api=False)
    assert json.loads(shown.output)["changes"][0]["body"]["max_call_duration"] == 1000
    assert workspace.run("apply", "a.plan").exit_code == 0
    state = workspace.run("show", "--json", api=False)
    assert json.loads(state.output)["resources"][0]["last_applied"]["max_call_duration"] == 1000
    assert secret not in json.dumps(json.loads(state.output)["resources"][0]["platform"]["webhook_url"])


def test_scrub_json_masks_inside_strings_only():
    from provisioner.scrub import scrub_json

    register_secret("1234")
    text = json.dumps({"id": 51234, "url": "https://x.example/?pin=1234", "ok": True}, indent=2)
    assert json.loads(scrub_json(text)) == {"id": 51234, "url": "https://x.example/?pin=***", "ok": True}
    untouched = json.dumps({"id": 7}, indent=2)
    assert scrub_json(untouched) is untouched


@pytest.mark.parametrize("where", ["nowhere", "a change", "a note", "the policies"])
def test_a_plan_printed_a_change_at_a_time_is_scrubbed_as_the_whole_text_was(where):
    """`plan --json` and `show --json` write the document a change at a time (render.plan_json_pieces): what they
    print is what scrub_json made of the whole text, byte for byte, `"masked": true` last when anything was masked,
    after the policies."""
    from provisioner.plan import Action, Change, FieldChange, Plan
    from provisioner.render import plan_json, plan_json_pieces
    from provisioner.scrub import scrub_json

    register_secret("4321")
    said = {"a change": "Dial 4321 now", "a note": "note", "the policies": "note"}.get(where, "Dial now")
    changes = [Change(f"a{i}", Action.CREATE, f"A{i}", body={"initial_message": said if i == 1 else "Hello"},
                      fields=[FieldChange("initial_message", None, said if i == 1 else "Hello", before_known=False)])
               for i in range(3)]
    plan = Plan(changes, "l", 1, notes=["pin 4321" if where == "a note" else "a note"])
    plan.policies = {"summary": {"passed": 1}, "rules": [{"message": "pin 4321" if where == "the policies" else "ok"}]}
    printed = "".join(plan_json_pieces(plan, scrubbed=True))
    assert printed == scrub_json(plan_json(plan))
    document = json.loads(printed)
    assert ("4321" in printed, document.get("masked")) == (False, None if where == "nowhere" else True)
    assert list(document)[-2:] == (["policies", "masked"] if where != "nowhere" else ["replace_requested", "policies"])


def test_a_plan_printed_a_change_at_a_time_says_masked_in_its_own_word_whatever_a_secret_is():
    """The flag `"masked": true` was written through the scrub of each key (scrub.JsonMask) when the pieces were
    made: with a secret that is the word itself, the printed plan ended `"***": true`, where the whole text's scrub
    (scrub_json) adds it after masking; a reader of `masked` (and show and apply) then found none."""
    from provisioner.plan import Action, Change, Plan
    from provisioner.render import plan_json, plan_json_pieces
    from provisioner.scrub import scrub_json

    register_secret("masked")
    plan = Plan([Change("a", Action.CREATE, "A", body={"initial_message": "the masked singer"})], "l", 1)
    printed = "".join(plan_json_pieces(plan, scrubbed=True))
    assert printed == scrub_json(plan_json(plan))
    assert json.loads(printed)["masked"] is True and "the *** singer" in printed


def test_a_plan_printed_with_a_mask_in_it_is_refused_as_a_plan_file(workspace, monkeypatch):
    """`plan --json > f` then `apply f` sent what the printout masked: a prompt quoting digits that are also a
    secret's value reached the platform as "Dial *** now". The printed plan says it was masked, and show and apply
    refuse it (plan --out keeps what it sends)."""
    monkeypatch.setenv("HOOK_KEY", "4321")
    workspace.add("a", initial_message="Dial 4321 now", is_webhook_active=True,
                  webhook_url="https://hooks.example.com/calls?key=${env.HOOK_KEY}")
    printed = workspace.run("plan", "--json")
    assert printed.exit_code == 0, printed.all
    document = json.loads(printed.output)
    assert document["masked"] is True and "4321" not in printed.output
    workspace.write("printed.plan", printed.output)
    for args in (("show", "--json", "printed.plan"), ("apply", "printed.plan")):
        refused = workspace.run(*args, api=args[0] == "apply")
        assert refused.exit_code == 1 and "printed with secret values masked" in refused.all, refused.all
    assert workspace.platform.assistants() == []  # nothing was sent
    # A plan with nothing masked in it is no such plan; one saved with --out applies what the manifests say.
    assert workspace.run("plan", "--out", "saved.plan").exit_code == 0
    assert workspace.run("apply", "saved.plan").exit_code == 0
    [assistant] = workspace.platform.assistants()
    assert assistant["initial_message"] == "Dial 4321 now"
