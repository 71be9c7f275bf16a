"""Every path spelling of API.md's Endpoints table (and the other paths API.md names) is served: the answer is the
endpoint's own (2xx, or its kind's 404/422/400...), never the router's `The route ... could not be found.` or a
405. The list is written from API.md, line by line, not from the emulator's routes."""
from __future__ import annotations

import itertools
import re

import pytest

from conformance_fixtures import api  # noqa: F401 (pytest fixture)

# API.md's Endpoints table, one entry per path spelling, as the table writes it: `{id}`-style placeholders,
# `a|b` alternatives in a query and N, P, XX, D for query values.
TABLE = [
    "POST /user/assistant",
    "GET /user/assistants/get?per_page=N&page=P",
    "PUT /user/assistant/{id}",
    "DELETE /user/assistant/{id}",
    "GET /user/assistants/voices?mode=pipeline|multimodal|dualplex",
    "GET /user/assistants/languages",
    "GET /user/assistants/models?type=llm|multimodal|dualplex",
    "GET /user/assistants/synthesizer-providers?language_id=N",
    "GET /user/assistants/transcriber-providers",
    "GET /user/assistants/phone-numbers?type=inbound|outbound",
    "GET /user/assistants/outbound",
    "GET /user/tools",
    "POST /user/tools",
    "GET /user/tools/{id}",
    "PUT /user/tools/{id}",
    "DELETE /user/tools/{id}",
    "GET /user/knowledgebases",
    "POST /user/knowledgebases",
    "GET /user/knowledgebases/{id}",
    "PUT /user/knowledgebases/{id}",
    "DELETE /user/knowledgebases/{id}",
    "GET /user/knowledgebases/{kb}/documents",
    "POST /user/knowledgebases/{kb}/documents",
    "GET /user/knowledgebases/{kb}/documents/{doc}",
    "PUT /user/knowledgebases/{kb}/documents/{doc}",
    "DELETE /user/knowledgebases/{kb}/documents/{doc}",
    "GET /user/folders?per_page=N&page=P",
    "GET /user/labels?per_page=N&page=P",
    "POST /user/folder",
    "POST /user/label",
    "PUT /user/folder/{id}",
    "PUT /user/label/{id}",
    "DELETE /user/folder/{id}",
    "DELETE /user/label/{id}",
    "GET /user/phone-numbers/all",
    "PUT /user/phone-numbers/{id}",
    "GET /user/phone-numbers/search?country_code=XX&contains=D",
    "POST /user/phone-numbers/purchase",
    "DELETE /user/phone-numbers/{id}",
    "GET /user/phone-numbers/sip-trunks",
    "POST /user/phone-numbers/sip-trunks",
    "GET /user/phone-numbers/sip-trunks/{id}",
    "PUT /user/phone-numbers/sip-trunks/{id}",
    "GET /user/campaigns",
    "POST /user/campaigns",
    "POST /user/campaign",               # the Autocalls reference's spelling, in the same table line
    "POST /user/campaigns/update-status",
    "DELETE /user/campaign/{id}",
]
# Named in API.md's text beside the table: the vendor's MCP client's plural folder and label paths ("Folders
# and labels"), and the older list of numbers ("Phone numbers and SIP trunks").
ELSEWHERE = [
    "POST /user/folders", "PUT /user/folders/{id}", "DELETE /user/folders/{id}",
    "POST /user/labels", "PUT /user/labels/{id}", "DELETE /user/labels/{id}",
    "GET /user/phone-numbers",
]
# Values for the table's placeholders: ids of the shipped catalogue's first tenant, or of nothing (the kind's
# own 404 is an answer of the endpoint); query values in range.
IDS = {"id": "45", "kb": "1", "doc": "2"}
QUERY_VALUES = {"N": "10", "P": "1", "XX": "DE", "D": "89"}


def spellings(entry: str) -> list[tuple[str, str]]:
    """(method, path) for each alternative of an entry, placeholders filled."""
    method, path = entry.split(" ", 1)
    path = re.sub(r"\{(\w+)\}", lambda m: IDS[m.group(1)], path)
    path = re.sub(r"=([A-Z]+)(?=&|$)", lambda m: "=" + QUERY_VALUES[m.group(1)], path)
    base, _, query = path.partition("?")
    if not query:
        return [(method, base)]
    choices = [[f"{name}={v}" for v in values.split("|")] for name, values in
               (pair.split("=", 1) for pair in query.split("&"))]
    return [(method, f"{base}?{'&'.join(combo)}") for combo in itertools.product(*choices)]


CASES = [case for entry in TABLE + ELSEWHERE for case in spellings(entry)]
# The lists of the table (no id in the path) answer 200 with the values above.
LISTS = {case for entry in TABLE + ELSEWHERE if entry.startswith("GET ") and "{" not in entry
         for case in spellings(entry)}


def test_the_list_covers_the_table():
    assert len(TABLE) == 48 and len(CASES) == len(set(CASES)) == 60
    # Every placeholder filled: no braces, no capitals left but a country code.
    assert all(re.fullmatch(r"/user/[a-z/0-9-]+(\?[a-z_]+=[a-z0-9A-Z]+(&[a-z_]+=[a-z0-9]+)*)?", p) for _, p in CASES)


@pytest.mark.parametrize("method, path", CASES, ids=[f"{m} {p}" for m, p in CASES])
def test_every_path_spelling_is_served(api, method, path):
    response = api.raw(method, path, json={})
    body = response.json()
    assert response.status_code != 405, (method, path, body)
    assert not (response.status_code == 404 and "could not be found" in str(body.get("message"))), (method, path)
    assert response.status_code < 500, (method, path, body)
    if (method, path) in LISTS:
        assert response.status_code == 200, (method, path, body)
