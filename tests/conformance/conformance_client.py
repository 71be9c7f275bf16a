"""A tiny third-party client of the platform, written from API.md alone (plain httpx; nothing from provisioner).

It is what any team would write against the documented API: a base URL that ends in /api, a bearer token,
the list read by following `next_page_url`, catalogues that are bare arrays (or `{"data": [...]}`).
"""
from __future__ import annotations

import functools
import ssl

import httpx

# The shipped catalogue's two tenants (docs/emulator.md): the one the suite works as, and another.
TOKEN = "local-dev-token"
OTHER_TOKEN = "second-tenant-token"


class ApiError(Exception):
    def __init__(self, response: httpx.Response):
        self.response = response
        self.status = response.status_code
        try:
            self.body = response.json()
        except ValueError:
            self.body = None
        super().__init__(f"{response.request.method} {response.request.url} -> {self.status}: {response.text}")


@functools.cache
def tls() -> ssl.SSLContext:
    """One TLS context for every client: building one (loading the CA bundle) costs ~0.1 s, each test makes two."""
    return ssl.create_default_context()


class PlatformClient:
    def __init__(self, base_url: str, token: str):
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                                 timeout=30, verify=tls())

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method: str, path_or_url: str, **kwargs) -> httpx.Response:
        url = path_or_url if path_or_url.startswith("http") else self.base_url + path_or_url
        response = self.http.request(method, url, **kwargs)
        if response.status_code >= 400:
            raise ApiError(response)
        return response

    @staticmethod
    def _array(body):
        return body["data"] if isinstance(body, dict) else body

    # --- assistants ---

    def list_all(self, per_page: int = 10) -> list[dict]:
        """Every assistant, following next_page_url from the first page to the last."""
        page = self._call("GET", "/user/assistants/get", params={"per_page": per_page}).json()
        items = list(page["data"])
        while page["next_page_url"]:
            page = self._call("GET", page["next_page_url"]).json()
            items += page["data"]
        return items

    def find(self, assistant_id: int) -> dict | None:
        """The list is the only way to read one assistant."""
        return next((a for a in self.list_all(per_page=100) if a["id"] == assistant_id), None)

    def create(self, body: dict) -> dict:
        return self._call("POST", "/user/assistant", json=body).json()

    def update(self, assistant_id: int, body: dict) -> dict:
        return self._call("PUT", f"/user/assistant/{assistant_id}", json=body).json()

    def delete(self, assistant_id: int) -> dict:
        return self._call("DELETE", f"/user/assistant/{assistant_id}").json()

    # --- catalogues ---

    def voices(self, mode: str | None = None, **params) -> list[dict]:
        if mode:
            params["mode"] = mode
        return self._array(self._call("GET", "/user/assistants/voices", params=params).json())

    def languages(self) -> list[dict]:
        return self._array(self._call("GET", "/user/assistants/languages").json())

    def language_id(self, name_or_code: str) -> int:
        wanted = name_or_code.casefold()
        return next(lang["id"] for lang in self.languages()
                    if wanted in (lang["name"].casefold(), (lang.get("iso_2") or "").casefold()))

    def models(self, type: str) -> list[dict]:
        return self._array(self._call("GET", "/user/assistants/models", params={"type": type}).json())

    def model_id(self, type: str, name: str) -> int:
        return next(m["id"] for m in self.models(type) if m["name"] == name)

    def synthesizer_providers(self, language_id: int | None = None) -> list[dict]:
        params = {"language_id": language_id} if language_id is not None else {}
        return self._array(self._call("GET", "/user/assistants/synthesizer-providers", params=params).json())

    def transcriber_providers(self) -> list[dict]:
        return self._array(self._call("GET", "/user/assistants/transcriber-providers").json())

    def phone_numbers(self, type: str | None = None) -> list[dict]:
        params = {"type": type} if type else {}
        return self._array(self._call("GET", "/user/assistants/phone-numbers", params=params).json())

    def outbound_assistants(self) -> list[dict]:
        return self._array(self._call("GET", "/user/assistants/outbound").json())

    # --- the other kinds (API.md's Endpoints table) ---

    def get(self, path: str, **params):
        return self._call("GET", path, params=params).json()

    def post(self, path: str, body: dict | None = None, **kwargs):
        return self._call("POST", path, json=body, **kwargs).json() if body is not None or not kwargs else \
            self._call("POST", path, **kwargs).json()

    def put(self, path: str, body: dict):
        return self._call("PUT", path, json=body).json()

    def remove(self, path: str):
        return self._call("DELETE", path).json()

    def create_tool(self, **overrides) -> dict:
        body = {"name": "get_weather", "description": "Look up the weather for a city.",
                "endpoint": "https://api.example.com/weather/{city}", "method": "GET", **overrides}
        return self.post("/user/tools", body)["data"]

    def tools(self) -> list[dict]:
        return self._array(self.get("/user/tools"))

    def create_knowledgebase(self, name: str = "Product FAQ", **fields) -> dict:
        return self.post("/user/knowledgebases", {"name": name, **fields})["data"]

    def raw(self, method: str, path: str, **kwargs) -> httpx.Response:
        """The answer as it is, error or not (for the error bodies)."""
        return self.http.request(method, self.base_url + path, **kwargs)
