"""Small Kinds for the apply tests, built on API.md's paths (the kinds helpers write the real ones): enough of a
tool, a folder, a knowledge base and its documents, a campaign and a SIP trunk to walk graphs against the
emulator over HTTP. Plans are built by hand (pure data), as the planner will build them."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from provisioner.kinds.base import Endpoints, FieldFacts, Kind
from provisioner.plan import Action, Change


class _Any(BaseModel):
    model_config = {"extra": "allow"}


def _items(answer: Any) -> list[dict]:
    if isinstance(answer, dict):
        answer = answer.get("data", [])
    return list(answer)


def _data(answer: Any) -> dict:
    return answer.get("data", answer) if isinstance(answer, dict) else {}


def _paged(client, path: str) -> list[dict]:
    items, page = [], 1
    while True:
        answer = client.request("GET", path, params={"per_page": 100, "page": page})
        items += answer["data"]
        if page * answer["per_page"] >= answer["total"]:
            return items
        page += 1


def _flat(path: str, one: str) -> Endpoints:
    return Endpoints(
        list=lambda client, parent=None: _items(client.request("GET", path)),
        create=lambda client, body, parent=None: _data(client.request("POST", path, json=body)),
        update=lambda client, id, body, parent=None: _data(client.request("PUT", f"{one}/{id}", json=body)),
        delete=lambda client, id, parent=None: client.request("DELETE", f"{one}/{id}"),
    )


def _kind(name: str, endpoints: Endpoints, **facts) -> Kind:
    return Kind(name=name, manifest_kind=name.title(), title=name, spec_model=_Any, fields=(FieldFacts("name"),),
                endpoints=endpoints, read=lambda item: ({}, []), create_body=dict, update_body=dict, **facts)


def _documents() -> Endpoints:
    base = "/user/knowledgebases/{}/documents"

    def readiness(item, current, parent):
        status = current["status"] if current is not None else "gone"
        return {"active": "ready", "processing": "pending"}.get(status, f"processing {status}")

    return Endpoints(
        list=lambda client, parent: _items(client.request("GET", base.format(parent))),
        create=lambda client, body, parent: _data(client.request(
            "POST", base.format(parent), json={k: v for k, v in body.items() if k != "knowledgebase_id"})),
        update=lambda client, id, body, parent: _data(client.request("PUT", base.format(parent) + f"/{id}",
                                                                     json=body)),
        delete=lambda client, id, parent: client.request("DELETE", base.format(parent) + f"/{id}"),
        readiness=readiness)


def _folders() -> Endpoints:
    return Endpoints(
        list=lambda client, parent=None: _paged(client, "/user/folders"),
        create=lambda client, body, parent=None: _data(client.request("POST", "/user/folder", json=body)),
        update=lambda client, id, body, parent=None: _data(client.request("PUT", f"/user/folder/{id}", json=body)),
        delete=lambda client, id, parent=None: client.request("DELETE", f"/user/folder/{id}"))


def _trunks() -> Endpoints:
    return Endpoints(
        list=lambda client, parent=None: _items(client.request("GET", "/user/phone-numbers/sip-trunks")),
        create=lambda client, body, parent=None: _data(client.request("POST", "/user/phone-numbers/sip-trunks",
                                                                      json=body)),
        update=None,
        delete=lambda client, id, parent=None: client.request("DELETE", f"/user/phone-numbers/{id}"),
        confirm_delete=lambda client, id: any(t["id"] == id for t in _items(
            client.request("GET", "/user/phone-numbers/sip-trunks"))))


KINDS = {
    "tool": _kind("tool", _flat("/user/tools", "/user/tools")),
    "knowledgebase": _kind("knowledgebase", _flat("/user/knowledgebases", "/user/knowledgebases")),
    "document": _kind("document", _documents(), parent_field="knowledgebase_id"),
    "folder": _kind("folder", _folders(), unique_names=True),
    "campaign": _kind("campaign", _flat("/user/campaigns", "/user/campaign"), replace_loses="deletes its leads"),
    "siptrunk": _kind("siptrunk", _trunks()),
}


def record(spec: dict, **extra) -> dict:
    return {"spec": spec, "protect": False, "sensitive": [], "remote": {}, **extra}


def tool(name: str, action: Action = Action.CREATE, *, remote_id: int | None = None, replace: bool = False,
         **fields) -> Change:
    spec = {"name": name.replace("-", "_"), "description": f"The {name} tool", "method": "GET",
            "endpoint": f"https://api.example.com/{name}", **fields}
    body = spec if action is not Action.DELETE else {}
    return Change(address=f"tool.{name}", action=action, assistant_name=spec["name"], kind="tool",
                  remote_id=remote_id, body=body, record=record(spec) if body else {}, replace=replace)


def folder(name: str, action: Action = Action.CREATE, *, remote_id: int | None = None, replace: bool = False,
           **fields) -> Change:
    spec = {"name": name, **fields}
    return Change(address=f"folder.{name}", action=action, assistant_name=name, kind="folder", remote_id=remote_id,
                  body=spec if action is not Action.DELETE else {}, record=record(spec), replace=replace)
