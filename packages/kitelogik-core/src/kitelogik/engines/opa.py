"""Client for a real OPA server's REST Data API (production / fleet mode)."""

from __future__ import annotations

import os

import httpx

from kitelogik.engines.base import EngineError, EngineResult

__all__ = ["OPAClient"]


class OPAClient:
    """Evaluates ``data.kitelogik.main.decision`` on an OPA server over HTTP."""

    name = "opa"

    def __init__(self, url: str | None = None, *, timeout: float = 2.0) -> None:
        self.url = (url or os.environ.get("KITELOGIK_OPA_URL") or "http://localhost:8181").rstrip("/")
        self._endpoint = f"{self.url}/v1/data/kitelogik/main/decision?strict-builtin-errors=true"
        self._client = httpx.Client(timeout=timeout)
        self._aclient = httpx.AsyncClient(timeout=timeout)

    @property
    def policy_version(self) -> str:
        return "opa"

    def _parse(self, response: httpx.Response) -> EngineResult:
        if response.status_code != 200:
            raise EngineError(f"OPA answered HTTP {response.status_code}")
        body = response.json()
        if not isinstance(body, dict):
            raise EngineError("OPA answered with a non-object body")
        return EngineResult(body.get("result"), body.get("decision_id"))

    def _body(self, input_json: str) -> bytes:
        return b'{"input":' + input_json.encode() + b"}"

    def evaluate(self, input_json: str) -> EngineResult:
        r = self._client.post(self._endpoint, content=self._body(input_json),
                              headers={"content-type": "application/json"})
        return self._parse(r)

    async def aevaluate(self, input_json: str) -> EngineResult:
        r = await self._aclient.post(self._endpoint, content=self._body(input_json),
                                     headers={"content-type": "application/json"})
        return self._parse(r)
