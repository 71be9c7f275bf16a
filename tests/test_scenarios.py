"""Random sequences of manifest edits, direct platform edits and state loss; after each apply the platform
equals the manifests field by field, no name is duplicated, and the next plan says No changes."""
import collections
import random

import pytest

from provisioner.planner import full_spec, same
from provisioner.wire import READABLE_FIELDS, create_fields_from_read

CHOICES = {
    "voice_id": [1, 2, 3, 4],
    "language": ["English", "Spanish", "French"],
    "llm_model": ["gpt-4o", "gpt-4.1", "claude"],
    "calls_direction": ["receive", "make"],
    "engine_type": ["pipeline", "multimodal"],
    "timezone": ["UTC", "Europe/Paris", "Asia/Tokyo"],
    "system_prompt": ["Be brief.", "Be warm.", "Sell."],
    "phone_number_id": [45, 46, 47],
    "record_call": [True, False],
    "filler_audios": [True, False],
    "max_call_duration": [20, 300, 1200],
    "speech_speed": [0.7, 1.0, 1.2],
    "variables": [{}, {"a": "1"}, {"a": "2", "b": 3}],
    "end_call_tool": [{"description": "bye"}, {"description": "ciao"}],
    "post_call_schema": [[], [{"name": "n", "type": "number", "description": "d"}]],
    "who_speaks_first": ["Customer", "AI assistant"],
}
OPTIONAL = [f for f in CHOICES if f not in ("voice_id", "language", "llm_model", "calls_direction", "engine_type",
                                            "timezone", "system_prompt")]
PLATFORM_EDITS = {"system_prompt": "edited outside", "voice_id": 4, "record": None, "name": None}


class Scenario:
    def __init__(self, workspace, seed):
        self.ws = workspace
        self.random = random.Random(seed)
        self.specs: dict[str, dict] = {}
        self.counter = 0

    def new_manifest(self):
        self.counter += 1
        address = f"bot-{self.counter}"
        spec = {field: self.random.choice(values) for field, values in CHOICES.items()
                if field not in OPTIONAL or self.random.random() < 0.5}
        self.write(address, spec)

    def write(self, address, spec):
        self.specs[address] = spec
        self.ws.add(address, name=f"Bot {address}", **spec)

    def step(self):
        ops = ["add", "edit", "drop_field", "remove", "platform_edit", "platform_delete", "lose_state", "rename"]
        op = self.random.choice(ops if self.specs else ["add"])
        address = self.random.choice(sorted(self.specs)) if self.specs else None
        if op == "add":
            self.new_manifest()
        elif op == "edit":
            field = self.random.choice(list(CHOICES))
            self.write(address, {**self.specs[address], field: self.random.choice(CHOICES[field])})
        elif op == "drop_field":
            present = [f for f in OPTIONAL if f in self.specs[address]]
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
                                     assistant_name="Renamed outside", variables={"z": "z"})
        elif op == "lose_state":
            self.ws.lose_state()
        return op

    def check(self, op):
        result = self.ws.run("apply", "--auto-approve")
        assert result.exit_code == 0, (op, result.all)
        items = self.ws.platform.assistants()
        names = collections.Counter(item["name"] for item in items)
        assert all(count == 1 for count in names.values()), (op, names)
        by_name = {item["name"]: item for item in items}
        for address, spec in self.specs.items():
            fields = create_fields_from_read(by_name[f"Bot {address}"])
            expected = full_spec({**spec, "assistant_name": f"Bot {address}", **{
                k: v for k, v in __import__("conftest").REQUIRED.items() if k not in spec}})
            for field in READABLE_FIELDS:
                assert same(fields[field], expected[field]), (op, address, field, fields[field], expected[field])
        plan = self.ws.run("plan", "--detailed-exitcode")
        assert plan.exit_code == 0 and "No changes." in plan.output, (op, plan.all)
        return len(items)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_sequences_converge(workspace, seed):
    scenario = Scenario(workspace, seed)
    for _ in range(3):
        scenario.new_manifest()
    scenario.check("initial")
    for _ in range(14):
        op = scenario.step()
        count = scenario.check(op)
        # Renames and removals destroy the old assistant; nothing is ever left behind or duplicated.
        assert count == len(scenario.specs), op
