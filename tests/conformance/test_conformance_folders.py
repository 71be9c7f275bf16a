"""Folders and labels (API.md "Folders and labels"): both path spellings, pages of 15, unique names, and what
deleting one does to the assistants in it."""
from __future__ import annotations

import pytest

import conformance_kind_schemas as S
from conformance_bodies import v2_body
from conformance_fixtures import admin, answered, api, other  # noqa: F401 (pytest fixtures)

WORDS = ("folder", "label")


@pytest.mark.parametrize("word", WORDS)
@pytest.mark.parametrize("spelling", ["singular", "plural"])
def test_lifecycle_under_both_spellings(api, word, spelling):
    schemas = S.group_answers(word)
    path = f"/user/{word}" if spelling == "singular" else f"/user/{word}s"
    created = answered(api.raw("POST", path, json={"name": "Sales", "color": "blue"}), 201,
                       schemas["created"])["data"]
    assert (created["name"], created["color"], created["assistants_count"]) == ("Sales", "blue", 0)
    updated = answered(api.raw("PUT", f"{path}/{created['id']}", json={"color": None}), 200,
                       schemas["updated"])["data"]
    assert (updated["name"], updated["color"]) == ("Sales", None), "null clears the color, the name stays"
    page = answered(api.raw("GET", f"/user/{word}s"), 200, schemas["page"])
    assert page["data"] == [updated] and (page["per_page"], page["total"]) == (15, 1)
    answered(api.raw("DELETE", f"{path}/{created['id']}"), 200, schemas["deleted"])
    for method in ("PUT", "DELETE"):
        answered(api.raw(method, f"{path}/{created['id']}", json={"name": "x"}), 404, schemas["404"])


@pytest.mark.parametrize("word", WORDS)
def test_pages_per_page_1_to_100_default_15(api, word):
    for i in range(17):
        api.post(f"/user/{word}", {"name": f"n{i:02}"})
    first = answered(api.raw("GET", f"/user/{word}s"), 200, S.group_answers(word)["page"])
    assert [len(first["data"]), first["current_page"], first["per_page"], first["total"]] == [15, 1, 15, 17]
    second = answered(api.raw("GET", f"/user/{word}s", params={"page": 2, "per_page": 15}), 200,
                      S.group_answers(word)["page"])
    assert [g["name"] for g in second["data"]] == ["n15", "n16"] and second["current_page"] == 2
    assert len(api.get(f"/user/{word}s", per_page=100)["data"]) == 17
    for per_page in (0, 101):
        assert list(answered(api.raw("GET", f"/user/{word}s", params={"per_page": per_page}), 422,
                             S.errors_422())["errors"]) == ["per_page"]


@pytest.mark.parametrize("word", WORDS)
def test_names_are_unique_within_the_account_only(api, other, word):
    first = api.post(f"/user/{word}", {"name": "Sales"})["data"]
    body = answered(api.raw("POST", f"/user/{word}", json={"name": "Sales"}), 422, S.errors_422())
    assert body["message"] == "The name has already been taken." and list(body["errors"]) == ["name"]
    second = api.post(f"/user/{word}", {"name": "Support"})["data"]
    assert list(answered(api.raw("PUT", f"/user/{word}/{second['id']}", json={"name": "Sales"}), 422,
                         S.errors_422())["errors"]) == ["name"]
    api.put(f"/user/{word}/{first['id']}", {"name": "Sales"})   # its own name is no duplicate
    other.post(f"/user/{word}", {"name": "Sales"})               # another account's is none either


@pytest.mark.parametrize("word", WORDS)
@pytest.mark.parametrize("body, key", [({}, "name"), ({"name": "x" * 256}, "name"), ({"name": "a", "color": "navy"},
                                                                                        "color")])
def test_rules(api, word, body, key):
    assert list(answered(api.raw("POST", f"/user/{word}", json=body), 422, S.errors_422())["errors"]) == [key]


@pytest.mark.parametrize("word", WORDS)
def test_another_users_folder_or_label_is_not_found(api, other, word):
    mine = api.post(f"/user/{word}", {"name": "Mine"})["data"]
    for method in ("PUT", "DELETE"):
        answered(other.raw(method, f"/user/{word}/{mine['id']}", json={"name": "x"}), 404,
                 S.group_answers(word)["404"])
    assert other.get(f"/user/{word}s")["data"] == []


def test_assistants_count_and_deleting_a_folder_or_label_leaves_the_assistants(api, admin):
    folder = api.post("/user/folder", {"name": "Sales"})["data"]
    red, blue = (api.post("/user/label", {"name": n})["data"] for n in ("red", "blue"))
    first = api.create(v2_body(api, folder_id=folder["id"], label_ids=[red["id"], blue["id"]]))["data"]
    api.create(v2_body(api, name="Second", label_ids=[red["id"]]))
    assert api.get("/user/folders")["data"][0]["assistants_count"] == 1
    assert [g["assistants_count"] for g in api.get("/user/labels")["data"]] == [2, 1]
    before = api.list_all()
    api.remove(f"/user/folder/{folder['id']}")
    api.remove(f"/user/label/{red['id']}")
    # "leaves the assistants unchanged": nothing in the read shape moves, `updated_at` included.
    assert api.list_all() == before
    stored = admin.get(f"/_emulator/objects/assistants/{first['id']}").json()["fields"]
    assert (stored["folder_id"], stored["label_ids"]) == (None, [blue["id"]])
    assert len(api.list_all()) == 2
    assert not {"folder_id", "label_ids"} & set(api.list_all()[0]), "neither is in the read shape"


def test_an_assistants_folder_and_labels_must_be_the_users_own(api, other):
    folder, label = other.post("/user/folder", {"name": "F"})["data"], other.post("/user/label", {"name": "L"})["data"]
    mine = api.post("/user/label", {"name": "Mine"})["data"]
    body = answered(api.raw("POST", "/user/assistant", json=v2_body(api, folder_id=folder["id"],
                                                                      label_ids=[mine["id"], label["id"]])),
                    422, S.errors_422())
    assert sorted(body["errors"]) == ["folder_id", "label_ids.1"]


def test_an_assistants_folder_and_labels_must_be_of_their_kind_and_exist(api):
    folder, label = api.post("/user/folder", {"name": "F"})["data"], api.post("/user/label", {"name": "L"})["data"]
    body = answered(api.raw("POST", "/user/assistant", json=v2_body(api, folder_id=label["id"],
                                                                      label_ids=[label["id"], folder["id"],
                                                                                 10 ** 9])),
                    422, S.errors_422())
    assert sorted(body["errors"]) == ["folder_id", "label_ids.1", "label_ids.2"]
    api.create(v2_body(api, folder_id=folder["id"], label_ids=[label["id"]]))
