"""Properties API.md states for all values, checked on generated inputs through /api."""
from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings, strategies as st

from conformance_client import TOKEN, PlatformClient
from conformance_bodies import v1_body

FIXTURE_OK = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _decimals(low: str, high: str, places: int):
    return st.decimals(min_value=Decimal(low), max_value=Decimal(high), places=places)


@FIXTURE_OK
@given(temperature=_decimals("0", "1", 3), speed=_decimals("0.7", "1.2", 2), stability=_decimals("0", "1", 4))
def test_decimal_strings_never_lose_precision(platform, temperature, speed, stability):
    platform.reset()
    with PlatformClient(platform.url, TOKEN) as api:
        api.create(v1_body(llm_temperature=float(temperature), speech_speed=float(speed),
                           voice_stability=float(stability)))
        [item] = api.list_all()
    for sent, read in ((temperature, item["llm_temperature"]), (speed, item["speech_speed"]),
                       (stability, item["voice_stability"])):
        assert Decimal(read) == sent, (sent, read)
        assert len(read.split(".")[1]) >= 2


@FIXTURE_OK
@given(count=st.integers(0, 23), per_page=st.integers(1, 100))
def test_following_next_page_url_reads_every_assistant_once(platform, count, per_page):
    platform.reset()
    with PlatformClient(platform.url, TOKEN) as api:
        created = [api.create(v1_body(assistant_name=f"P{i}"))["data"]["id"] for i in range(count)]
        listed = api.list_all(per_page=per_page)
    assert [a["id"] for a in listed] == created
