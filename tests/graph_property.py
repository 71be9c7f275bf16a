"""Random valid graphs of every managed kind, for the property test against the emulator
(tests/test_graph_property_e2e.py): hypothesis strategies for a graph and for a mutation of one, the manifests
that describe a graph, and what the platform must hold once it is applied.

A graph is a `Graph` of specs keyed by address, over a small fixed universe of addresses (so a mutation changes,
drops, adds and rewires the same objects). References are written as the manifests write them: an address, a
`{name: ...}` lookup of an object nobody manages (`UNMANAGED`, made before the first apply), a raw id (`Raw`,
resolved when the manifests are written: ids are the platform's), or for numbers an E.164 string."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from hypothesis import strategies as st

from conftest import REQUIRED

TOOLS, KBS, DOCS, FOLDERS, LABELS, TRUNKS, ASSISTANTS, CAMPAIGNS = (
    ("a", "b"), ("k0", "k1"), ("d0", "d1"), ("f0", "f1"), ("l0", "l1", "l2"), ("s0",), ("a0", "a1", "a2"),
    ("c0", "c1"))
# The numbers of the default catalogue's tenant (provisioner/emulator/default_catalog.yaml): 45 and 47 are
# Normal, 46 a caller ID (an outbound assistant or a campaign may use it).
NUMBERS = {"+14155550100": 45, "+14155550101": 46, "+442071838750": 47}
SECRETS = {"G17P_KEY_ONE": "key-one-5f1e", "G17P_KEY_TWO": "key-two-9a3c", "G17P_SIP_ONE": "sip-one-77",
           "G17P_SIP_TWO": "sip-two-88"}
MANIFEST_KIND = {"tool": "Tool", "knowledgebase": "KnowledgeBase", "folder": "Folder", "label": "Label",
                 "siptrunk": "SipTrunk", "campaign": "Campaign", "assistant": "Assistant"}


@dataclass(frozen=True)
class Raw:
    """A raw platform id in a manifest: the id of the unmanaged object of `kind` (or a number's own id)."""
    kind: str


# Objects nobody manages, made on the platform before the first apply: (kind, name). Manifests reach them by
# `{name: ...}` or by a raw id, and they must be there, once each and untouched, after every apply.
UNMANAGED = {"tool": "ext_tool", "knowledgebase": "Ext KB", "folder": "Ext Folder", "label": "Ext Label",
             "assistant": "Ext Caller"}


@dataclass
class Graph:
    dialect: str
    objects: dict[str, tuple[str, dict]] = field(default_factory=dict)  # address -> (kind, spec)

    def of(self, kind: str) -> dict[str, dict]:
        return {address: spec for address, (k, spec) in self.objects.items() if k == kind}

    def copy(self) -> Graph:
        return Graph(self.dialect, copy.deepcopy(self.objects))


def _address(kind: str, slot: str) -> str:
    return slot if kind == "assistant" else f"{kind}.{slot}"


# --- one object of each kind (spec without references) ---

@st.composite
def tool(draw, slot: str) -> dict:
    spec = {"name": f"tool_{slot}" + draw(st.sampled_from(["", "_v"])),
            "description": draw(st.sampled_from(["Looks an order up.", "Finds a booking."])),
            "method": draw(st.sampled_from(["GET", "POST"]))}
    if draw(st.booleans()):
        spec["endpoint"] = f"https://api.example.com/{slot}/{{order_id}}"
        spec["schema"] = [{"name": "order_id", "type": draw(st.sampled_from(["string", "number"])),
                           "description": "The order number."}]
    else:
        spec["endpoint"] = f"https://api.example.com/{slot}"
    if draw(st.booleans()):
        spec["timeout"] = draw(st.integers(1, 30))
    if draw(st.booleans()):
        spec["headers"] = {"Authorization": "Bearer ${env.%s}" % draw(st.sampled_from(["G17P_KEY_ONE",
                                                                                        "G17P_KEY_TWO"]))}
    return spec


@st.composite
def document(draw, slot: str) -> dict:
    spec = {"name": f"Doc {slot}" + draw(st.sampled_from(["", " (new)"])), "key": slot}
    if draw(st.booleans()):
        spec["description"] = "About " + slot
    shape = draw(st.sampled_from(["url", "links", "file"]))
    if shape == "url":
        spec.update(type="website", url=draw(st.sampled_from(["https://example.com/a", "https://example.com/b"])))
    elif shape == "links":
        spec.update(type="website", links=[{"link": f"https://example.com/{slot}"}],
                    relative_links_limit=draw(st.integers(1, 50)))
    else:
        spec.update(type="txt", file=f"../files/{slot}.txt")
        spec["_content"] = draw(st.sampled_from(["Open 9 to 5.\n", "Closed on Sundays.\n"]))
    return spec


@st.composite
def knowledgebase(draw, slot: str) -> dict:
    spec = {"name": f"KB {slot}" + draw(st.sampled_from(["", " v2"]))}
    if draw(st.booleans()):
        spec["description"] = draw(st.sampled_from(["Answers", "What callers ask"]))
    slots = draw(st.lists(st.sampled_from(DOCS), unique=True, max_size=2))
    spec["documents"] = [draw(document(f"{slot}{d}")) for d in sorted(slots)]
    return spec


@st.composite
def grouping(draw, kind: str, slot: str) -> dict:
    spec = {"name": f"{kind.title()} {slot}" + draw(st.sampled_from(["", " B"]))}
    color = draw(st.sampled_from([None, "blue", "red", "teal"]))
    if color:
        spec["color"] = color
    return spec


@st.composite
def siptrunk(draw, slot: str) -> dict:
    i = TRUNKS.index(slot)
    number = draw(st.booleans())
    spec = {"sip_trunk_type": "number" if number else "extension",
            "phone_number": f"+1415555120{i}" if number else f"10{i}",
            "sip_username": f"user_{slot}", "sip_password": "${env.%s}" % draw(st.sampled_from(["G17P_SIP_ONE",
                                                                                            "G17P_SIP_TWO"])),
            "sip_address": f"sip{i}.provider.example.com",
            "sip_calling_format": draw(st.sampled_from(["+e164", "e164", "national"])), "country_code": "US"}
    if draw(st.booleans()):
        spec["nickname"] = draw(st.sampled_from(["Office", "Front desk"]))
    if draw(st.booleans()):
        spec.update(inbound_authorization_type="ip", allowed_inbound_ips=[f"203.0.113.{10 + i}"])
    else:
        spec["inbound_authorization_type"] = "auth"
    if draw(st.booleans()):
        spec["outbound_proxy"] = True
    return spec


# --- references ---

def _ref(draw, kind: str, managed: list[str], may_lookup: bool = True):
    """An address of a managed object of `kind`, the unmanaged one by name, or by its raw id."""
    choices = [*managed, *(["lookup", "raw"] if may_lookup and kind in UNMANAGED else [])]
    if not choices:
        return None
    choice = draw(st.sampled_from(choices))
    if choice == "lookup":
        return {"name": UNMANAGED[kind]}
    return Raw(kind) if choice == "raw" else choice


def _refs(draw, kind: str, managed: list[str], max_size: int = 3) -> list:
    """Distinct references: the unmanaged object by name or by id, not both (one id twice)."""
    pool = [*managed, draw(st.sampled_from([{"name": UNMANAGED[kind]}, Raw(kind)]))]
    picks = draw(st.lists(st.integers(0, len(pool) - 1), unique=True, max_size=max_size))
    return [pool[i] for i in picks]


def _number(draw, trunks: list[str], inbound: bool):
    """An outbound assistant's number, if any. An inbound one's must be one `?type=inbound` lists and no other
    inbound assistant holds: these have none, and say so (null), since a field left out is unmanaged and an
    assistant turned inbound would keep its outbound number (a caller ID, refused)."""
    if inbound:
        return "null"
    return draw(st.sampled_from([None, "+14155550100", "+14155550101", Raw("number"), *trunks]))


@st.composite
def assistant(draw, slot: str, graph: Graph) -> dict:
    outbound = draw(st.booleans())
    spec = {"assistant_name": f"Agent {slot}" + draw(st.sampled_from(["", " Two"])), **REQUIRED,
            "calls_direction": "make" if outbound else "receive",
            "system_prompt": draw(st.sampled_from(["Be helpful.", "Be brief."]))}
    if outbound:
        spec["post_call_schema"] = [{"name": "booked", "type": "bool", "description": "Whether it was booked"}]
    tools = _refs(draw, "tool", list(graph.of("tool")))
    if tools:
        spec["tool_ids"] = tools
    number = _number(draw, list(graph.of("siptrunk")), not outbound)
    if number is not None:
        spec["phone_number_id"] = None if number == "null" else number
    if graph.dialect == "v2":
        kb = draw(st.booleans()) and _ref(draw, "knowledgebase", list(graph.of("knowledgebase")))
        if kb:
            spec["knowledgebase_id"] = kb
            spec["knowledgebase_mode"] = draw(st.sampled_from(["function_call", "prompt"]))
        folder = draw(st.booleans()) and _ref(draw, "folder", list(graph.of("folder")))
        if folder:
            spec["folder_id"] = folder
        labels = _refs(draw, "label", list(graph.of("label")))
        if labels:
            spec["label_ids"] = labels
    return spec


def _callers(graph: Graph) -> list[str]:
    """Addresses of the graph's assistants a campaign may use: outbound, with the bool `booked`."""
    return [a for a, spec in graph.of("assistant").items() if spec["calls_direction"] == "make"]


@st.composite
def campaign(draw, slot: str, graph: Graph) -> dict:
    spec = {"name": f"Campaign {slot}" + draw(st.sampled_from(["", " Two"])),
            "assistant_id": draw(st.sampled_from([*(f"assistant.{a}" for a in _callers(graph)),
                                                  {"name": UNMANAGED["assistant"]}]))}
    if draw(st.booleans()):
        spec["goal_completion_variable"] = "booked"
    if draw(st.booleans()):
        spec["max_calls_in_parallel"] = draw(st.integers(1, 10))
    if draw(st.booleans()):
        spec["allowed_days"] = sorted(draw(st.lists(st.sampled_from(["monday", "tuesday", "friday"]),
                                                    unique=True, min_size=1)))
    numbers = draw(st.lists(st.sampled_from(["+14155550100", "+14155550101", Raw("number"),
                                             *graph.of("siptrunk")]), unique=True, max_size=2))
    if numbers:
        spec["phone_number_ids"] = numbers
    status = draw(st.sampled_from([None, "started", "stopped"]))
    if status:
        spec["status"] = status
    return spec


def _dangling(spec, graph: Graph) -> bool:
    """Whether a spec references an address the graph no longer has (or a campaign an assistant it can't use)."""
    def refs(value):
        if isinstance(value, list):
            return [r for v in value for r in refs(v)]
        return [value] if isinstance(value, str) and (value.split(".")[0] in MANIFEST_KIND or value in ASSISTANTS) \
            else []
    fields = ("tool_ids", "phone_number_id", "knowledgebase_id", "folder_id", "label_ids", "phone_number_ids")
    if any(r not in graph.objects for f in fields for r in refs(spec.get(f))):
        return True
    caller = spec.get("assistant_id")
    return isinstance(caller, str) and caller.removeprefix("assistant.") not in _callers(graph)


@st.composite
def graphs(draw, dialect: str, previous: Graph | None = None) -> Graph:
    """A valid graph; from `previous`, a mutation of it: each object kept as it is, changed, dropped or added,
    and references rewired where an object changes or what it named is gone."""
    graph = Graph(dialect)

    def slot(kind: str, name: str, make) -> None:
        address = _address(kind, name)
        before = previous.objects.get(address) if previous else None
        present = draw(st.booleans()) if before is None or draw(st.booleans()) else True
        if not present:
            return
        keep = before is not None and draw(st.booleans())
        graph.objects[address] = (kind, copy.deepcopy(before[1]) if keep else draw(make(name)))

    for name in TOOLS:
        slot("tool", name, tool)
    for name in KBS:
        slot("knowledgebase", name, knowledgebase)
    for name in FOLDERS:
        slot("folder", name, lambda s: grouping("folder", s))
    for name in LABELS:
        slot("label", name, lambda s: grouping("label", s))
    for name in TRUNKS:
        slot("siptrunk", name, siptrunk)
    for name in ASSISTANTS:  # after what they reference
        slot("assistant", name, lambda s: assistant(s, graph))
    if not graph.of("assistant"):
        graph.objects["a0"] = ("assistant", draw(assistant("a0", graph)))
    for address, (kind, spec) in list(graph.objects.items()):
        if kind == "assistant" and _dangling(spec, graph):
            graph.objects[address] = (kind, draw(assistant(address, graph)))
    for name in CAMPAIGNS:
        slot("campaign", name, lambda s: campaign(s, graph))
    for address, (kind, spec) in list(graph.objects.items()):
        if kind == "campaign" and _dangling(spec, graph):
            graph.objects[address] = (kind, draw(campaign(address.split(".")[1], graph)))
    if previous is not None:
        _no_campaign_kept_on_a_retyped_trunk(graph, previous)
    return graph


def _no_campaign_kept_on_a_retyped_trunk(graph: Graph, previous: Graph) -> None:
    """A SIP trunk whose type changes is replaced, destroying first (its number is unique on the platform); a
    campaign that used it and still does is replaced too (its numbers cannot be updated), creating first: a cycle
    that apply refuses by design ("change them in separate applies"). Such a campaign lets go of the trunk."""
    retyped = {address for address, spec in graph.of("siptrunk").items()
               if address in previous.objects and previous.objects[address][1]["sip_trunk_type"] != spec["sip_trunk_type"]}
    for address, spec in graph.of("campaign").items():
        before = previous.objects.get(address)
        used = retyped & set(before[1].get("phone_number_ids", [])) if before is not None else set()
        if used and used & set(spec.get("phone_number_ids", [])):
            numbers = [n for n in spec["phone_number_ids"] if n not in used]
            if numbers:
                spec["phone_number_ids"] = numbers
            else:
                del spec["phone_number_ids"]


# --- manifests, and what the platform must hold ---

def resolve(value, ids: dict[str, int], unmanaged: dict[str, int]):
    """A reference as an id: an address through `ids` (state's), a lookup or Raw through `unmanaged`."""
    if isinstance(value, list):
        return [resolve(v, ids, unmanaged) for v in value]
    if value is None:
        return None
    if isinstance(value, Raw):
        return 47 if value.kind == "number" else unmanaged[value.kind]
    if isinstance(value, dict):
        return unmanaged[next(k for k, n in UNMANAGED.items() if n == value["name"])]
    if isinstance(value, str) and value.startswith("+"):
        return NUMBERS[value]
    return ids[value.removeprefix("assistant.")]


def _written(value, unmanaged: dict[str, int]):
    if isinstance(value, list):
        return [_written(v, unmanaged) for v in value]
    if isinstance(value, dict) and set(value) != {"name"}:
        return {k: _written(v, unmanaged) for k, v in value.items() if not k.startswith("_")}
    return resolve(value, {}, unmanaged) if isinstance(value, Raw) else value


def write_manifests(root: Path, graph: Graph, unmanaged: dict[str, int]) -> None:
    """The graph as manifests under root/manifests (one file an object; a document's file beside them), replacing
    whatever was there."""
    folder = root / "manifests"
    (root / ".git").mkdir(exist_ok=True)  # the repository's root: a document's file may be outside manifests/
    (root / "files").mkdir(exist_ok=True)
    for old in [*folder.glob("*.yaml"), *(root / "files").glob("*")]:
        old.unlink()
    for address, (kind, spec) in graph.objects.items():
        for doc in spec.get("documents", []):
            if "_content" in doc:
                (folder / doc["file"]).write_text(doc["_content"])
        name = address.split(".", 1)[-1]
        document = {"apiVersion": "provisioner/v1", "kind": MANIFEST_KIND[kind], "metadata": {"name": name},
                    "spec": _written(spec, unmanaged)}
        (folder / f"{kind}-{name}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


def expected_names(graph: Graph) -> dict[str, list[str]]:
    """Per kind (the emulator's list names), the sorted names the platform must hold: the graph's and the
    unmanaged objects', each once."""
    kinds = {"tool": "name", "knowledgebase": "name", "folder": "name", "label": "name", "campaign": "name",
             "assistant": "assistant_name"}
    names = {kind: sorted([spec[key] for spec in graph.of(kind).values()]
                          + ([UNMANAGED[kind]] if kind in UNMANAGED else [])) for kind, key in kinds.items()}
    names["siptrunk"] = sorted(spec["phone_number"] for spec in graph.of("siptrunk").values())
    return names
