"""The last line of defence for secrets in output: every error message and JSON document the CLI prints
passes through `scrub`, which masks the API token, URL credentials and secret-looking query parameters.

Messages are written not to contain secrets in the first place; this catches what slips through (a
library's exception quoting a header, a URL echoed by a connection error).
"""
from __future__ import annotations

import contextlib
import json
import re
import threading
from typing import Any, Iterable, Iterator
from urllib.parse import parse_qsl, unquote, urlsplit
from .patterns import LazyPattern


MASK = "***"
# Shorter values are not worth masking and would mangle ordinary words if they were.
MIN_SECRET_LENGTH = 4

_secrets: set[str] = set()
_longest_first: list[str] = []  # _secrets, longest first (a secret may contain another); kept with it
_lock = threading.Lock()

# scheme://user:password@host -> scheme://***@host
# A user's part without a `:` holds no `?` or `#` (`https://x.com?contact=help@x.com` has none, only a query);
# one with a `:` (user:password) is credentials whatever the password holds.
_URL_CREDENTIALS = LazyPattern(r"(?i)\b([a-z][a-z0-9+.\-]*://)(?:[^/?#\s@'\"<>:]*:[^/\s@'\"<>]*|[^/?#\s@'\"<>]+)@")
# ?token=... &api_key=... (the names platforms and webhooks use for secrets): a candidate is a name that ends with
# one of the words (a plural or `_id`, `_value`, `_pem` after it); `_secret_name` decides (see there). The value
# stops at `&`, `#`, `;`, `?`, a space, a quote or a bracket.
_QUERY_SECRET = LazyPattern(
    r"(?i)([?&;]([a-z0-9_\-]*?)(password|passwd|secret|credential|signature|authorization|token|key|sig|sid|"
    r"auth|pwd|session)(s?)((?:[_\-]?id|[_\-](?:value|pem))?)=)[^&#;?\s'\"<>]+")
# A word that is a secret's wherever it ends a name (mytoken, dbpassword, SharedAccessSignature) ...
_STRONG = frozenset({"password", "passwd", "secret", "credential", "signature", "authorization", "token"})
# ... and one that is only when it is the name's own word: the whole name, after `_` or `-`, after a usual prefix
# written with it (apikey), or a capitalised part (secretKey, SecretAccessKey): not monkey, hotkey, design.
_GLUED = frozenset({"api", "access", "auth", "client", "private", "refresh", "app", "x", "secret", "signing",
                    "session", "user", "master", "shared"})
_PLURAL = frozenset({"secret", "credential", "key"})  # secrets, credentials, api_keys; not max_tokens or keys


def _secret_name(match: re.Match) -> bool:
    prefix, word, plural = match.group(2), match.group(3), match.group(4)
    lower = word.lower()
    if plural and (lower not in _PLURAL or (lower == "key" and not prefix)):
        return False
    if lower in _STRONG:
        return True
    return (not prefix or prefix[-1] in "_-" or prefix.lower() in _GLUED
            or (word[0].isupper() and not prefix[-1].isupper()))


# A bearer token: 8 characters or more ("Bearer bonds" is a phrase).
_BEARER = LazyPattern(r"\b(Bearer)(\s+)[A-Za-z0-9\-._~+/=]{8,}")


def register_secret(value: str | None) -> None:
    """Mask `value` (and its URL-decoded form) wherever it appears in output from now on."""
    register_secrets([value] if value else [])


def register_secrets(values: list[str]) -> None:
    """register_secret of each value, sorted once."""
    forms = _forms(values)
    if not forms:
        return
    with _lock:
        _secrets.update(forms)
        _sort()


def _forms(values: list[str]) -> set[str]:
    """Each value as output may show it: as is, stripped, URL-decoded, and escaped as JSON output and Python
    messages would show it (quotes, backslashes, control characters), JSON's with its non-ASCII escaped or as it
    is (the views write it so: 'cöde"42' is `cöde\\"42` there); those too short to mask left out."""
    forms: set[str] = set()
    for value in values:
        if value:
            these = {value, value.strip(), unquote(value)}
            forms |= these | {repr(f)[1:-1] for f in these}
            forms |= {json.dumps(f, ensure_ascii=ascii)[1:-1] for f in these for ascii in (True, False)}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def _sort() -> None:
    """Called holding _lock: scrub reads the sorted list without sorting it per line (an apply scrubs one per
    change)."""
    global _longest_first
    _longest_first = sorted(_secrets, key=len, reverse=True)


@contextlib.contextmanager
def masking(fields: dict[str, Any] | None, sensitive: Any) -> Iterator[None]:
    """While a change's request is made on this thread, what scrub gives this thread also masks the values of
    `fields`' sensitive fields (its body): a platform that rejects or fails a request may quote the body back,
    and a literal sip_password, header value or Cal.com key (no ${env.X}, so nothing registered it) reached the
    retry notices and the error message in clear. Worked out only if a text is scrubbed meanwhile (a failure):
    registering every change's values for the whole run made every line's scrub slower with the fleet's size."""
    before = getattr(_local, "pending", None)
    _local.pending = (fields, sensitive) if fields and sensitive else None
    try:
        yield
    finally:
        _local.pending = before


def _thread_secrets() -> list[str]:
    """The values `masking` hides on this thread, longest first."""
    pending = getattr(_local, "pending", None)
    if pending is None:
        return []
    fields, sensitive = pending
    found: list[str] = []
    for name in sensitive:
        # A text is masked whole; a mapping's texts (header values) each; a list's items by their secret-named
        # keys (a tool's calcom_api_key), not every word.
        value = fields.get(name)
        if isinstance(value, str):
            found.append(value)
            found += _url_parts(value)
        elif isinstance(value, dict):
            found += [v for v in value.values() if isinstance(v, str)]
        elif isinstance(value, list):
            found += [v for item in value if isinstance(item, dict) for k, v in item.items()
                      if isinstance(v, str) and isinstance(k, str) and _is_secret_name(k)]
    return sorted(_forms(found), key=len, reverse=True)


_local = threading.local()


def _is_secret_name(name: str) -> bool:
    """Whether a key names a secret as a query parameter's name would (calcom_api_key, password)."""
    match = _QUERY_SECRET.match(f"?{name}=x")
    return match is not None and match.end(1) == len(name) + 2 and _secret_name(match)


def register_url(url: str | None) -> None:
    """Mask the password (and user) of `url` and the values of its secret-looking query parameters."""
    register_secrets(_url_parts(url))


def _url_parts(url: str | None) -> list[str]:
    """The password (and user) of `url` and the values of its secret-looking query parameters."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
        found = [parts.password, parts.username if parts.password else None]
        found += [value for name, value in parse_qsl(parts.query, keep_blank_values=False)
                  if _QUERY_SECRET.match(f"?{name}={value}")]
    except ValueError:  # not even a URL: the patterns still apply
        return []
    return [value for value in found if value]


def forget_secrets() -> None:
    """For tests and long-lived library users: drop every registered secret."""
    with _lock:
        _secrets.clear()
        _sort()


def scrub(text: str) -> str:
    """`text` with every registered secret and every credential-looking URL part masked."""
    if not text:
        return text
    for secret in _longest_first:  # replaced whole, never changed in place: a consistent list
        if secret in text:
            text = text.replace(secret, MASK)
    if getattr(_local, "pending", None) is not None:
        for secret in _thread_secrets():
            if secret in text:
                text = text.replace(secret, MASK)
    return _mask_patterns(text)


def scrub_json(text: str) -> str:
    """scrub for one JSON document (`--json`): masks only inside its strings, so that it stays JSON whatever a secret
    is (a password `false`, or digits that are also part of an id: masked in the text, they gave `"id": ***`). The
    text is scrubbed whole first, as fast as ever; only when that masks something is it done string by string."""
    if scrub(text) == text:
        return text
    from .plan import PLAN_FORMAT  # only once something is masked: the command line's root scrubs its errors too

    document = _scrub_strings(json.loads(text))
    if isinstance(document, dict) and document.get("format") == PLAN_FORMAT:
        # A plan printed with a mask in it is no plan to apply: applying it would send the masks (a prompt quoting a
        # digit string that is also a secret's value). Plan.from_dict refuses it (docs/plan-format.md).
        document["masked"] = True
    return json.dumps(document, indent=2, ensure_ascii=False)


class JsonMask:
    """scrub_json for a document written in pieces (json_text.in_pieces), as `encode` of each of its keys, values
    and items: a text that scrub would change is written again from its value with its strings scrubbed, as
    scrub_json writes the whole document then, and `flagged` ends the document with `"masked": true` after any was."""

    def __init__(self, encoder: json.JSONEncoder) -> None:
        self.encoder = encoder
        self.masked = False
        self.flagging = False  # writing the flag itself: the provisioner's word, never a secret's

    def __call__(self, value: Any) -> str:
        text = self.encoder.encode(value)
        if self.flagging or scrub(text) == text:
            return text
        self.masked = True
        # Read back from its text, as scrub_json reads the whole document: the same value written the same way.
        return self.encoder.encode(_scrub_strings(json.loads(text)))

    def flagged(self, members: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
        """A plan's `members`, then `masked` (docs/plan-format.md) if any was masked: looked at once they are
        written, as in_pieces reads its members."""
        yield from members
        if self.masked:
            # Not scrubbed, as scrub_json adds it after masking: a secret `masked` wrote it `"***": true`.
            self.flagging = True
            yield "masked", True


def _scrub_strings(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(k): _scrub_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_strings(v) for v in value]
    return value


def scrub_view(text: str, fmt: str) -> str:
    """A view of a plan or the state in `fmt` (text, json, markdown), scrubbed."""
    return scrub_json(text) if fmt == "json" else scrub(text)


def carries_credentials(text: str) -> bool:
    """Whether `text` holds what looks like a credential whatever was registered: URL credentials, a
    secret-looking query parameter, a bearer token (a manifest's value is then kept as a secret)."""
    return _mask_patterns(text) != text


def _mask_patterns(text: str) -> str:
    # Each pattern needs a literal the text may not hold: looked for first (a search costs a tenth of a sub).
    if "://" in text and "@" in text:  # credentials in a URL end with an @
        text = _URL_CREDENTIALS.sub(lambda m: m.group(1) + MASK + "@", text)
    if "=" in text:
        text = _mask_query_secrets(text)
    if "Bearer" in text:
        text = _BEARER.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    return text


def holds_credentials(value: Any) -> bool:
    """Whether output would mask part of `value` (a text, or a JSON value's text): what plan never shows, pull
    never writes and export writes as a variable."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return scrub(text) != text


def _keep_name(match: re.Match) -> str:
    return match.group(1) + MASK if _secret_name(match) else match.group(0)


def _mask_query_secrets(text: str) -> str:
    """`_QUERY_SECRET.sub` over `text`, tried only where a match can begin: at a `?`, `&` or `;`, found by
    str.find (C), where the regex engine would step through every character of a plan of megabytes (apply's and
    destroy's plan text is scrubbed like plan's). Text dense with those marks gets the single regex pass."""
    starts: list[int] = []
    dense = len(text) // 128 + 8  # past this many, a Python step per mark costs more than the regex's scan
    for mark in "?&;":
        at = text.find(mark)
        while at >= 0:
            starts.append(at)
            if len(starts) > dense:
                return _QUERY_SECRET.sub(_keep_name, text)
            at = text.find(mark, at + 1)
    if not starts:
        return text
    starts.sort()
    pieces: list[str] = []
    done = 0  # as re.sub: the next match is looked for after the last one
    match_at = _QUERY_SECRET.match
    for at in starts:
        if at < done:
            continue
        match = match_at(text, at)
        if match is not None and _secret_name(match):
            pieces += (text[done:match.end(1)], MASK)
            done = match.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)
