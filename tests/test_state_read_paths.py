"""Reading the store's rows takes one path that is fast for good rows (issue 23): these tests compare it with the
slow definitions it replaced, which are kept here as oracles. strict_json's one C scan against json.loads with
the checking hooks; a row's checks against the old checked path, message for message; a good row composes no
message at all."""
import json
import math

from hypothesis import HealthCheck, given, settings, strategies as st

from provisioner.errors import StateError
from provisioner.state import (DEFAULT_KIND, KIND_NAME, MAX_ID, ResourceState, State, _DuplicateKey, _no_constants,
                               _show, check_address, check_record, strict_json)
from provisioner.state import rows as store_rows

SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- the oracles: the definitions before the fast path ---

def _reference_pairs(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _reference_float(text):
    value = float(text)
    if math.isinf(value):  # 1e400: past the float range, no number (state push crashed writing it back)
        raise ValueError(f"{text[:40]} is beyond the range of a number")
    return value


def _reference_json(text):
    return json.loads(text, object_pairs_hook=_reference_pairs, parse_constant=_no_constants,
                      parse_float=_reference_float)


_RECORD_KEYS = {"id", "spec", "protect", "sensitive", "remote", "source", "kind", "depends_on"}


def _reference_record(record, name, where):
    unknown = sorted(set(record) - _RECORD_KEYS)
    if unknown:
        raise StateError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
    remote_id = record.get("id")
    if not (type(remote_id) is int and 0 < remote_id <= MAX_ID):
        raise StateError(f"{name('id')} must be a positive integer (got {_show(remote_id)})")
    spec, protect = record.get("spec"), record.get("protect", False)
    sensitive, remote = record.get("sensitive", []), record.get("remote", {})
    if spec is not None and not isinstance(spec, dict):
        raise StateError(f"{name('spec')} must be an object or null (got {_show(spec)})")
    if not isinstance(protect, bool):
        raise StateError(f"{name('protect')} must be true or false (got {_show(protect)})")
    if not isinstance(sensitive, list) or not all(isinstance(n, str) for n in sensitive):
        raise StateError(f"{name('sensitive')} must be a list of field names (got {_show(sensitive)})")
    if not isinstance(remote, dict):
        raise StateError(f"{name('remote')} must be an object (got {_show(remote)})")
    source = record.get("source")
    if source is not None and (not isinstance(source, str) or not source or len(source) > 4096):
        raise StateError(f"{name('source')} must be a file path or null (got {_show(source)})")
    kind, depends_on = record.get("kind", DEFAULT_KIND), record.get("depends_on", [])
    if not isinstance(kind, str) or not KIND_NAME.fullmatch(kind):
        raise StateError(f"{name('kind')} must be a kind name such as \"tool\" (got {_show(kind)})")
    if not isinstance(depends_on, list) or not all(check_address(a) for a in depends_on):
        raise StateError(f"{name('depends_on')} must be a list of addresses (got {_show(depends_on)})")
    return ResourceState(id=remote_id, spec=spec, protect=protect, sensitive=list(sensitive), remote=remote,
                         source=source, kind=kind, depends_on=list(depends_on))


def _reference_row(source, workspace, address, remote_id, record, kind):
    bad, where = store_rows._bad, store_rows._where
    if not isinstance(address, str) or not check_address(address):
        raise bad(f"{where(source, workspace)}, column address holds {_show(address)}: not a valid address "
                  "(lowercase letters, digits, '-' and '_', whole)")
    where = where(source, workspace, address)
    if not (type(remote_id) is int and 0 < remote_id <= MAX_ID):
        raise bad(f"{where}, column remote_id must be a positive integer (got {_show(remote_id)})")
    if not isinstance(record, str):
        raise bad(f"{where}, column record must be JSON text (got {_show(record)})")
    try:
        fields = _reference_json(record)
    except _DuplicateKey as error:
        raise bad(f"{where}, column record: the key {error.key!r} appears twice") from None
    except (ValueError, RecursionError) as error:
        raise bad(f"{where}, column record is not valid JSON ({str(error)[:120]})") from None
    if not isinstance(fields, dict):
        raise bad(f"{where}, column record must be a JSON object with spec, protect, sensitive, remote "
                  f"(got {_show(fields)})")
    if "id" in fields:
        raise bad(f"{where}, column record: unknown key 'id' (the id is the column remote_id)")
    if "kind" in fields:
        raise bad(f"{where}, column record: unknown key 'kind' (the kind is the column kind)")
    if not isinstance(kind, str) or not KIND_NAME.fullmatch(kind):
        raise bad(f"{where}, column kind must be a kind name such as 'tool' (got {_show(kind)})")
    try:
        return _reference_record({**fields, "id": remote_id, "kind": kind},
                                 lambda key: f"{where}, column record: {key}", f"{where}, column record")
    except StateError as error:
        raise bad(str(error)) from None


def _outcome(function, *args):
    """What a call answers: the value (repr: a NaN equals itself there) or the error's type, text and key."""
    try:
        return "value", repr(function(*args))
    except Exception as error:  # noqa: BLE001 - the very error is what is compared
        return type(error).__name__, str(error), getattr(error, "key", None)


# --- strict_json: any text ---

keys = st.sampled_from(["a", "b", "spec", "é", "a\"b", ""])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=6),
                    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-0.0", "1.10"]))


def _render(value) -> str:
    """JSON text of nested pairs lists (a key may come twice) and raw tokens (NaN, 1e400)."""
    if isinstance(value, tuple):  # a raw token
        return value[0]
    if isinstance(value, list) and value and isinstance(value[0], list):
        return "{" + ", ".join(f"{json.dumps(k)}: {_render(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return json.dumps(value)


tokens = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-0.0", "1.10", "0", "tru", "1.", "\"\\u00e9\"", "{}"])
json_like = st.recursive(
    st.one_of(scalars.filter(lambda v: not isinstance(v, float) or math.isfinite(v)), tokens.map(lambda t: (t,))),
    lambda inner: st.one_of(st.lists(inner, max_size=3).filter(lambda v: not v or not isinstance(v[0], list)),
                            st.lists(st.tuples(keys, inner).map(list), min_size=1, max_size=4)),
    max_leaves=10)
texts = st.one_of(
    json_like.map(_render),
    st.tuples(st.sampled_from(["", " ", "\n", "\ufeff", "x", "\t "]), json_like.map(_render),
              st.sampled_from(["", " ", "\n", "x", "}", ",1", " \r\n"])).map("".join),
    st.text(max_size=12),
    st.binary(max_size=12),
    json_like.map(lambda v: _render(v).encode()),
)


@SETTINGS
@given(texts)
def test_strict_json_answers_as_the_checking_decoder(text):
    assert _outcome(strict_json, text) == _outcome(_reference_json, text)


def test_strict_json_refuses_what_the_checking_decoder_refuses():
    assert _outcome(strict_json, '{"a": 1, "b": {"c": 1, "c": 2}, "a": 3}') == ("_DuplicateKey", "c", "c")
    assert _outcome(strict_json, '{"a": [NaN]}')[0] == "ValueError"
    assert _outcome(strict_json, '\ufeff{}')[0] == "JSONDecodeError"
    assert strict_json(' {"a": 1}\n') == {"a": 1} == strict_json(b'{"a": 1}')
    assert _outcome(strict_json, "1e400") == ("ValueError", "1e400 is beyond the range of a number", None)


def test_a_value_followed_by_json_whitespace_is_read_in_one_scan(monkeypatch):
    """A saved plan ends with a line break: it was scanned whole, then decoded all over again by json.loads (a
    10,000-change plan of 66 MB: 2.8 s to read instead of 0.9). Whitespace other than JSON's is still its error."""
    import provisioner.state as state_module

    def decoded_again(*args, **kwargs):
        raise AssertionError("decoded a second time")

    monkeypatch.setattr(state_module.json, "loads", decoded_again)
    assert strict_json('{"a": [1, {"b": 2.5}]}\n') == {"a": [1, {"b": 2.5}]} == strict_json('{"a": [1, {"b": 2.5}]} \r\n\t')
    monkeypatch.undo()
    assert _outcome(strict_json, '{"a": 1}\x1c')[0] == "JSONDecodeError"


# --- rows: the checks, message for message ---

record_values = st.one_of(st.none(), st.booleans(), st.integers(-1, 2), st.text(max_size=3),
                          st.sampled_from([{}, {"a": 1}, [], ["x"], [1], ["a", "b"], ["folder.f-1"], ["A"], "m.yaml",
                                           "x" * 5000, {"nested": [1.5, None]}]))
records = st.dictionaries(st.sampled_from(["spec", "protect", "sensitive", "remote", "source", "depends_on", "id",
                                           "kind", "other"]), record_values, max_size=5)
record_texts = st.one_of(
    records.map(lambda r: json.dumps(r, sort_keys=True)), records.map(json.dumps), texts.filter(
        lambda t: isinstance(t, str)), st.none(), st.integers(0, 3), st.binary(max_size=3),
    st.sampled_from(['{"spec": null, "spec": {}}', '{"spec": {"t": NaN}}', '{"remote": {"a": 1, "a": 2}}']))
row_addresses = st.sampled_from(["a", "tool.x", "knowledgebase.k.p-1", "a~deposed", "A", "a\n", "", 5, None,
                                 "a.b.c.d", "x" * 201])
row_ids = st.sampled_from([1, 7, MAX_ID, MAX_ID + 1, 0, -1, True, "1", 1.0, None])
row_kinds = st.sampled_from(["assistant", "tool", "document", "Tool", "", 3, None, "a" * 33])


@SETTINGS
@given(row_addresses, row_ids, record_texts, row_kinds)
def test_a_row_reads_as_the_checked_path_read_it(address, remote_id, record, kind):
    assert (_outcome(store_rows.check_resource_row, "SQLite x.db", "default", address, remote_id, record, kind)
            == _outcome(_reference_row, "SQLite x.db", "default", address, remote_id, record, kind))


@SETTINGS
@given(records, st.sampled_from([None, 3]), st.sampled_from([None, "tool", "Tool"]))
def test_a_pushed_record_reads_as_the_checked_path_read_it(record, remote_id, kind):
    # A state document's resource: the id and kind inside the record (check_record without columns).
    record = {**record, **({"id": remote_id} if remote_id else {}), **({"kind": kind} if kind else {})}
    place = 'state.json: resources["a"]'
    assert (_outcome(check_record, record, lambda key: place if key is None else f"{place}.{key}")
            == _outcome(_reference_record, record, lambda key: f"{place}.{key}", place))


def _unplaced(key):
    raise AssertionError(f"a message was composed for a good record ({key!r})")


@SETTINGS
@given(st.builds(ResourceState, id=st.integers(1, MAX_ID), spec=st.none() | st.dictionaries(keys, st.integers()),
                 protect=st.booleans(), sensitive=st.lists(keys, max_size=2),
                 remote=st.dictionaries(keys, st.text(max_size=3)), source=st.none() | st.just("m.yaml"),
                 kind=st.sampled_from(["assistant", "tool"]),
                 depends_on=st.lists(st.sampled_from(["a", "tool.t", "knowledgebase.k.p"]), max_size=2)))
def test_a_good_row_composes_no_message(entry):
    fields = json.loads(entry.record_json())
    assert check_record(fields, _unplaced, (entry.id, entry.kind)) == entry
    assert store_rows.check_resource_rows("db", "default", [("a", entry.id, entry.record_json(), entry.kind)]) \
        == {"a": entry}


def test_a_pushed_document_reads_the_same_resources_as_the_rows():
    document = State(lineage="l", serial=3, resources={
        "a": ResourceState(7, {"x": 1.5}, True, ["webhook_url"], {"y": None}, "m.yaml", depends_on=["tool.t"]),
        "tool.t": ResourceState(8, None, kind="tool")})
    rows = [(address, entry.id, entry.record_json(), entry.kind) for address, entry in document.resources.items()]
    assert State.loads(document.dumps(), "state.json").resources == document.resources \
        == store_rows.check_resource_rows("db", "default", rows)
