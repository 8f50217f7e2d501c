"""Client of the factory's optional OpenAI-compatible chat endpoint (MOFANG_LLM_ENDPOINT): never required, used for
LLM-as-judge and instruction synthesis when configured."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from mofang.core.config import settings
from mofang.core.errors import MofangError

# errors where the request never reached a model: worth another try (a read timeout is not: generation is slow)
_RETRYABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError,
              httpx.WriteError, httpx.PoolTimeout)


class EndpointClient:
    """Chat completions from an OpenAI-compatible server at `base_url` (e.g. http://host:8000/v1).

    Connection errors and 5xx answers are retried `retries` times, waiting backoff_s, 2·backoff_s, … in between;
    every failure ends as a MofangError naming the URL and what happened."""

    def __init__(self, base_url: str, api_key: str | None = None, model: str | None = None, timeout_s: float = 60,
                 *, retries: int = 2, backoff_s: float = 0.5) -> None:
        base_url = (base_url or "").strip().rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise MofangError(f"LLM endpoint {base_url!r}: the base URL must start with http:// or https:// "
                              "(e.g. http://host:8000/v1)")
        self.base_url, self.api_key, self.model = base_url, api_key, model
        self.timeout_s, self.retries, self.backoff_s = float(timeout_s), int(retries), float(backoff_s)

    @property
    def url(self) -> str:
        """The chat-completions URL."""
        return f"{self.base_url}/chat/completions"

    def __repr__(self) -> str:
        return f"EndpointClient({self.base_url!r}, model={self.model!r})"

    def chat(self, messages: Sequence[Mapping[str, str]], *, max_tokens: int = 512, temperature: float = 0.0) -> str:
        """The assistant's reply to `messages` ([{"role": "user", "content": "..."}, ...])."""
        if not messages or not all(isinstance(m, Mapping) and "role" in m and "content" in m for m in messages):
            raise MofangError(f"LLM endpoint {self.url}: messages must be a non-empty list of "
                              "{'role': ..., 'content': ...} mappings")
        body: dict[str, Any] = {"messages": [{"role": str(m["role"]), "content": str(m["content"])} for m in messages],
                                "max_tokens": int(max_tokens), "temperature": float(temperature), "stream": False}
        if self.model:
            body["model"] = self.model
        return _reply_text(self._post(body), self.url)

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = httpx.post(self.url, json=body, headers=headers, timeout=self.timeout_s)
            except _RETRYABLE as exc:
                if last:
                    raise MofangError(f"LLM endpoint {self.url}: cannot connect ({type(exc).__name__}: {exc}) "
                                      f"after {self.retries + 1} tries") from exc
            except httpx.TimeoutException as exc:
                raise MofangError(f"LLM endpoint {self.url}: no answer within {self.timeout_s:g} s") from exc
            except httpx.HTTPError as exc:
                raise MofangError(f"LLM endpoint {self.url}: request failed ({type(exc).__name__}: {exc})") from exc
            else:
                if response.status_code < 400:
                    return response
                if response.status_code < 500 or last:
                    tries = f" after {self.retries + 1} tries" if response.status_code >= 500 else ""
                    raise MofangError(f"LLM endpoint {self.url}: HTTP {response.status_code}{tries}: "
                                      f"{_server_message(response)}")
            time.sleep(self.backoff_s * 2 ** attempt)
        raise AssertionError("unreachable")  # pragma: no cover


def _server_message(response: httpx.Response) -> str:
    """The error message in an error answer: OpenAI's {"error": {"message"}}, FastAPI's {"detail"}, or the text."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("error", "detail", "message"):
            if data.get(key):
                return str(data[key])
    text = response.text.strip()
    return text[:500] if text else response.reason_phrase or "(empty answer)"


def _reply_text(response: httpx.Response, url: str) -> str:
    """choices[0].message.content of a chat-completions answer, or a MofangError saying what is malformed."""
    try:
        data = response.json()
    except ValueError as exc:
        raise MofangError(f"LLM endpoint {url}: the answer is not JSON: {response.text[:200]!r}") from exc
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise MofangError(f"LLM endpoint {url}: the answer has no choices[0].message.content: "
                          f"{str(data)[:200]}") from exc
    if not isinstance(content, str):
        raise MofangError(f"LLM endpoint {url}: choices[0].message.content is {type(content).__name__}, "
                          "not text")
    return content


def configured_endpoint(timeout_s: float = 60) -> EndpointClient | None:
    """The client of the endpoint MOFANG_LLM_ENDPOINT names (with MOFANG_LLM_API_KEY / MOFANG_LLM_MODEL), or None
    when no endpoint is configured."""
    current = settings()
    if not current.llm_endpoint:
        return None
    return EndpointClient(current.llm_endpoint, api_key=current.llm_api_key, model=current.llm_model,
                          timeout_s=timeout_s)
