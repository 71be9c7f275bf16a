"""Random sequences of manifest edits, direct platform edits and state loss; after each apply the platform
equals the manifests field by field, no name is duplicated, and the next plan says No changes."""
import collections
import random

import pytest

from provisioner.planner import desired_fields, same
from provisioner.wire import READABLE_FIELDS, comparable
from conftest import read_back as create_fields_from_read

VOICES = {"pipeline": [1, 2, 3, 4], "multimodal": [11, 12], "dualplex": [21, 22]}
MODELS = {"pipeline": ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4"],
          "multimodal": ["gpt-4o-realtime", "gpt-4o-mini-realtime"], "dualplex": ["gemini-live"]}
CHOICES = {
    "language": ["English", "Spanish", "French"],
    "calls_direction": ["receive", "make"],
    "engine_type": ["pipeline", "multimodal"],
    "timezone": ["UTC", "Europe/Paris", "Asia/Tokyo"],
    "system_prompt": ["Be brief.", "Be warm.", "Sell."],
    "phone_number_id": [45, 46, 47],
    "record_call": [True, False],
    "filler_audios": [True, False],
    "max_call_duration": [20, 300, 1200],
    "speech_speed": [0.7, 1.0, 1.2],
    "llm_temperature": [0.1, 0.35, 0.9],
    "noise_cancellation": [True, False],
    "post_call_evaluation": [True, False],
    "variables": [{}, {"a": "1"}, {"a": "2", "b": 3}],
    "end_call_tool": [{"description": "bye"}, {"description": "ciao"}],
    "post_call_schema": [[], [{"name": "num", "type": "number", "description": "the number"}],
                         [{"name": "done", "type": "bool", "description": "did it work"}]],
    "who_speaks_first": ["Customer", "AI assistant"],
}
V2_CHOICES = {
    "engine_type": ["pipeline", "multimodal", "dualplex"],
    "ringing_time": [5, 30, 60],
    "ambient_sound": ["off", "cafe", "office"],
    "tools": [[], [{"type": "dtmf_input", "description": "keys"}],
              [{"type": "call_transfer", "phone_number": "+14155550199", "description": "to a human"}]],
    "conversation_inactivity_timeout": [5, 30],
}
REQUIRED_CHOICES = ("language", "calls_direction", "engine_type", "timezone", "system_prompt")


class Scenario:
    def __init__(self, workspace, seed, dialect):
        self.ws = workspace
        self.dialect = dialect
        self.random = random.Random(seed)
        self.specs: dict[str, dict] = {}
        self.counter = 0
        self.choices = {**CHOICES, **(V2_CHOICES if dialect == "v2" else {})}

    def new_manifest(self):
        self.counter += 1
        address = f"bot-{self.counter}"
        spec = {field: self.random.choice(values) for field, values in self.choices.items()
                if field in REQUIRED_CHOICES or self.random.random() < 0.5}
        self.write(address, spec)

    def valid(self, address, spec):
        """What the platform's rules allow: a voice and model of the engine, fillers only in pipeline, and an
        inbound number that is not a caller-ID number nor another inbound assistant's."""
        spec = dict(spec)
        engine = spec["engine_type"]
        if spec.get("voice_id") not in VOICES[engine]:
            spec["voice_id"] = self.random.choice(VOICES[engine])
        if spec.get("llm_model") not in MODELS[engine]:
            spec["llm_model"] = self.random.choice(MODELS[engine])
        if engine != "pipeline":
            spec.pop("filler_audios", None)
        if spec["calls_direction"] == "receive" and "phone_number_id" in spec:
            taken = {s.get("phone_number_id") for a, s in self.specs.items()
                     if a != address and s["calls_direction"] == "receive"}
            free = [n for n in (45, 47) if n not in taken]
            if spec["phone_number_id"] not in free:
                if free:
                    spec["phone_number_id"] = self.random.choice(free)
                else:
                    del spec["phone_number_id"]
        return spec

    def write(self, address, spec):
        spec = self.valid(address, spec)
        self.specs[address] = spec
        self.ws.add(address, name=f"Bot {address}", **spec)

    def step(self):
        ops = ["add", "edit", "drop_field", "remove", "platform_edit", "platform_delete", "lose_state", "rename"]
        op = self.random.choice(ops if self.specs else ["add"])
        address = self.random.choice(sorted(self.specs)) if self.specs else None
        if op == "add":
            self.new_manifest()
        elif op == "edit":
            field = self.random.choice(list(self.choices))
            self.write(address, {**self.specs[address], field: self.random.choice(self.choices[field])})
        elif op == "drop_field":
            present = [f for f in self.choices if f not in REQUIRED_CHOICES and f in self.specs[address]]
            if present:
                spec = dict(self.specs[address])
                del spec[self.random.choice(present)]
                self.write(address, spec)
        elif op == "remove":
            self.ws.remove(address)
            del self.specs[address]
        elif op == "rename":
            new = f"bot-{address.split('-')[1]}-renamed"
            self.ws.remove(address)
            spec = self.specs.pop(address)
            self.specs[new] = spec
            self.ws.add(new, name=f"Bot {new}", **spec)
        elif op in ("platform_edit", "platform_delete"):
            [item] = self.ws.platform.by_name(f"Bot {address}")
            if op == "platform_delete":
                self.ws.platform.delete(item["id"])
            else:
                self.ws.platform.put(item["id"], system_prompt="edited outside", record_call=not item["record"],
                                     assistant_name="Renamed outside", variables={"z": "z"}, speech_speed=0.85,
                                     post_call_evaluation=not item["post_call_evaluation"])
        elif op == "lose_state":
            self.ws.lose_state()
        return op

    def check(self, op):
        result = self.ws.run("apply", "--auto-approve", "--allow-empty")
        assert result.exit_code == 0, (op, result.all)
        items = self.ws.platform.assistants()
        names = collections.Counter(item["name"] for item in items)
        assert all(count == 1 for count in names.values()), (op, names)
        by_name = {item["name"]: item for item in items}
        for address, spec in self.specs.items():
            fields = create_fields_from_read(by_name[f"Bot {address}"])
            expected = desired_fields({**spec, "assistant_name": f"Bot {address}", **{
                k: v for k, v in __import__("conftest").REQUIRED.items() if k not in spec}}, self.dialect)
            for field in READABLE_FIELDS & set(expected):
                assert same(comparable(field, fields[field], expected[field]), expected[field]), (
                    op, address, field, fields[field], expected[field])
        plan = self.ws.run("plan", "--detailed-exitcode", "--allow-empty")
        assert plan.exit_code == 0 and "No changes." in plan.output, (op, plan.all)
        return len(items)


@pytest.mark.parametrize("dialect, seed", [("v1", 1), ("v1", 2), ("v2", 3), ("v2", 4), ("v2", 5)])
def test_random_sequences_converge(workspace, dialect, seed):
    workspace.dialect = dialect
    scenario = Scenario(workspace, seed, dialect)
    for _ in range(3):
        scenario.new_manifest()
    scenario.check("initial")
    for _ in range(14):
        op = scenario.step()
        count = scenario.check(op)
        # Renames and removals destroy the old assistant; nothing is ever left behind or duplicated.
        assert count == len(scenario.specs), op
