"""Minimal valid create bodies in each dialect, from API.md's required fields."""
from __future__ import annotations

from conformance_client import PlatformClient


def v1_body(**overrides) -> dict:
    body = {"assistant_name": "Sales", "voice_id": 1, "language": "English", "llm_model": "gpt-4o",
            "calls_direction": "make", "engine_type": "pipeline", "timezone": "America/New_York",
            "initial_message": "Hi!", "system_prompt": "Be helpful."}
    return {k: v for k, v in {**body, **overrides}.items() if v is not ...}


def v2_body(api: PlatformClient, **overrides) -> dict:
    body = {"name": "Support", "voice_id": 1, "language_id": api.language_id("English"), "type": "outbound",
            "mode": "pipeline", "llm_model_id": api.model_id("llm", "gpt-4o"), "timezone": "Europe/Berlin",
            "initial_message": "Hello", "system_prompt": "Be kind."}
    return {k: v for k, v in {**body, **overrides}.items() if v is not ...}
