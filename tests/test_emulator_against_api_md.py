"""The emulator against API.md, where a review found them apart: each request is one API.md describes, and the
answer is what API.md says (the emulator is the copy; API.md is the truth)."""
from __future__ import annotations

import re

E164 = r"\+[1-9]\d{1,14}"  # API.md "Phone numbers": numbers are E.164


def test_every_number_the_search_offers_is_one_the_purchase_takes(platform):
    """API.md: the purchase takes a number the search returned; numbers are E.164 (at most 15 digits)."""
    offers = platform.http.get("/user/phone-numbers/search",
                               params={"country_code": "US", "contains": "1234567890"}).json()["data"]
    assert offers and all(re.fullmatch(E164, o["phone_number"]) for o in offers), offers
    assert all("1234567890" in o["phone_number"] for o in offers)
    bought = platform.http.post("/user/phone-numbers/purchase", json={"phone_number": offers[0]["phone_number"]})
    assert bought.status_code in (200, 201), bought.text


def test_a_website_document_needs_a_url_or_some_links(platform):
    """API.md: `url` is required when `links` is absent, and the other way round (an empty list is none)."""
    kb = platform.http.post("/user/knowledgebases", json={"name": "KB"}).json()["data"]["id"]
    refused = platform.http.post(f"/user/knowledgebases/{kb}/documents",
                                 json={"name": "page", "type": "website", "links": []})
    assert refused.status_code == 422 and "url" in refused.json()["errors"], refused.text


def test_a_sip_trunks_country_code_cannot_be_cleared_by_an_update(platform):
    """API.md: `country_code` is required; on update only `nickname` takes null."""
    trunk = platform.http.post("/user/phone-numbers/sip-trunks", json={
        "sip_trunk_type": "extension", "phone_number": "1000", "sip_username": "acme", "sip_password": "s3cret",
        "sip_address": "sip.provider.com", "sip_calling_format": "+e164", "inbound_authorization_type": "auth",
        "country_code": "US"}).json()["data"]
    refused = platform.http.put(f"/user/phone-numbers/sip-trunks/{trunk['id']}", json={"country_code": None})
    assert refused.status_code == 422 and "country_code" in refused.json()["errors"], refused.text


def test_a_multimodal_assistant_in_prompt_mode_is_refused_with_api_mds_words(platform):
    kb = platform.http.post("/user/knowledgebases", json={"name": "KB"}).json()["data"]["id"]
    refused = platform.http.post("/user/assistant", json={
        "name": "MM", "voice_id": 11, "language_id": 1, "type": "inbound", "mode": "multimodal",
        "multimodal_model_id": 21, "timezone": "Europe/London", "initial_message": "Hi", "system_prompt": "P",
        "knowledgebase_id": kb, "knowledgebase_mode": "prompt"})
    assert refused.status_code == 422
    assert refused.json()["errors"]["knowledgebase_mode"] == ["Only function_call mode is available for multimodal "
                                                              "assistants."]
