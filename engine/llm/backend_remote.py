"""Any OpenAI-compatible server: llama.cpp's server, ``python -m llama_cpp.server``, vLLM, Ollama.

For a team that shares one GPU box. Streams ``/v1/chat/completions`` over
server-sent events with the standard library (no extra dependency); cancel
shuts the socket down so a blocked read returns at once. Token counts use the
server's tokenize endpoint when it has one (``/extras/tokenize`` of
llama_cpp.server, ``/tokenize`` of llama.cpp's server), else an estimate.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from alsate.engine.llm.backend import GenerationRequest, GenerationStats, LLMError, StatsClock, TokenStream
from alsate.engine.llm.profiles import Profile, profile_for

API_KEY_ENV = "ALSATE_API_KEY"
CHARS_PER_TOKEN = 3.5  # estimate when the server cannot tokenize


class RemoteBackend:
    name = "remote"
    supports_prefill = False

    def __init__(self, url: str, *, model: str | None = None, api_key: str | None = None,
                 profile: Profile | None = None, n_ctx: int | None = None, timeout: float = 120.0) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LLMError(f"bad server URL {url!r}; expected http://HOST:PORT[/v1]")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        root = parts.path.rstrip("/")
        self._root = root[:-3] if root.endswith("/v1") else root
        self.url = f"{parts.scheme}://{parts.netloc}{self._root}/v1"
        self._api_key = api_key or os.environ.get(API_KEY_ENV)
        self._timeout = timeout
        self._model = model
        self.profile = profile
        self._n_ctx = n_ctx
        self._tokenize_path: str | None | bool = False  # False: not probed yet
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="alsate-remote")

    # -- HTTP ----------------------------------------------------------------------
    def _connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=self._timeout)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        conn = self._connect()
        try:
            conn.request(method, self._root + path, None if body is None else json.dumps(body), self._headers())
            response = conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise LLMError(f"cannot reach the model server at {self.url}: {exc}; "
                           "fix: start the server or check --remote") from None
        finally:
            conn.close()

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        status, data = self._request(method, path, body)
        if status != 200:
            raise LLMError(f"model server {self.url} answered {status} to {path}: {_first_line(data)}")
        try:
            return json.loads(data)
        except ValueError:
            raise LLMError(f"model server {self.url} sent invalid JSON for {path}") from None

    # -- the Backend interface -------------------------------------------------------
    @property
    def model_id(self) -> str:
        return f"remote:{self.model}"

    @property
    def model(self) -> str:
        with self._lock:
            if self._model is None:
                data = self._json("GET", "/v1/models")
                models = data.get("data") or []
                if not models:
                    raise LLMError(f"model server {self.url} lists no models; pass --remote-model NAME")
                self._model = str(models[0].get("id"))
            return self._model

    @property
    def n_ctx(self) -> int:
        if self._n_ctx is None:
            self._n_ctx = self._profile().n_ctx
        return self._n_ctx

    def _profile(self) -> Profile:
        if self.profile is None:
            self.profile = profile_for(self.model)
        return self.profile

    def wait_ready(self, timeout: float | None = None) -> bool:
        _ = self.model  # one round trip: the server is up and serves a model
        return True

    def count_tokens(self, text: str) -> int:
        if self._tokenize_path is False:
            self._tokenize_path = self._probe_tokenize()
        if self._tokenize_path == "/extras/tokenize":
            data = self._json("POST", "/extras/tokenize", {"input": text, "model": self.model})
            return len(data.get("tokens", []))
        if self._tokenize_path == "/tokenize":
            data = self._json("POST", "/tokenize", {"content": text, "add_special": False})
            return len(data.get("tokens", []))
        return max(1, round(len(text) / CHARS_PER_TOKEN)) if text else 0

    def _probe_tokenize(self) -> str | None:
        for path, body in (("/extras/tokenize", {"input": "a b", "model": self._model or ""}),
                           ("/tokenize", {"content": "a b"})):
            try:
                status, data = self._request("POST", path, body)
            except LLMError:
                return None
            if status == 200 and b"tokens" in data:
                return path
        return None

    def prompt_tokens(self, request: GenerationRequest) -> int:
        # Template overhead per message is a few tokens on every common template.
        return sum(self.count_tokens(m.content) + 6 for m in request.messages) + 4

    def stream(self, request: GenerationRequest) -> TokenStream:
        stream = TokenStream()
        clock = StatsClock()
        self._executor.submit(self._run, request, stream, clock)
        return stream

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- streaming (worker thread) -----------------------------------------------------
    def _run(self, request: GenerationRequest, stream: TokenStream, clock: StatsClock) -> None:
        try:
            self._generate(request, stream, clock)
        except BaseException as exc:
            if stream.cancelled.is_set():
                stream.finish(self._stats(clock, None, None, "cancelled"))
                return
            if not isinstance(exc, LLMError):
                exc = LLMError(f"model server {self.url}: {exc}")
            stream.fail(exc)

    def _stats(self, clock: StatsClock, prompt: int | None, cached: int | None, reason: str) -> GenerationStats:
        return GenerationStats(
            backend=self.name,
            model=self._model or "?",
            prompt_tokens=prompt,
            cached_tokens=cached,
            completion_tokens=clock.count,
            ttft_s=clock.ttft(),
            tokens_per_s=clock.rate(),
            total_s=clock.total(),
            finish_reason=reason,
        )

    def request_body(self, request: GenerationRequest) -> dict[str, Any]:
        """The JSON body of ``/v1/chat/completions`` for ``request``."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_json() for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
            "stream": True,
        }
        stop = list(request.stop) + list(self._profile().stop)
        if stop:
            body["stop"] = stop[:4]  # the OpenAI API takes at most four
        if request.repeat_penalty != 1.0:
            body["repeat_penalty"] = request.repeat_penalty  # llama.cpp servers; others ignore it
        if request.dry.on:  # llama.cpp servers take DRY's settings too
            body.update(dry_multiplier=request.dry.multiplier, dry_base=request.dry.base,
                        dry_allowed_length=request.dry.allowed_length,
                        dry_sequence_breakers=list(request.dry.breakers))
        if request.grammar:  # llama.cpp servers read GBNF from "grammar"
            body["grammar"] = request.grammar.text
        return body

    def _generate(self, request: GenerationRequest, stream: TokenStream, clock: StatsClock) -> None:
        body = self.request_body(request)
        conn = self._connect()

        def hang_up() -> None:
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        stream.on_cancel(hang_up)
        try:
            try:
                conn.request("POST", self._root + "/v1/chat/completions", json.dumps(body),
                             {**self._headers(), "Accept": "text/event-stream"})
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                if stream.cancelled.is_set():
                    raise
                raise LLMError(f"cannot reach the model server at {self.url}: {exc}; "
                               "fix: start the server or check --remote") from None
            if response.status != 200:
                raise LLMError(f"model server {self.url} answered {response.status}: "
                               f"{_first_line(response.read())}")
            prompt_tokens: int | None = None
            cached: int | None = None
            reason = "stop"
            finished = False
            for raw in response:
                if stream.cancelled.is_set():
                    reason = "cancelled"
                    break
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    finished = True
                    break
                try:
                    event = json.loads(payload)
                except ValueError:
                    continue
                usage = event.get("usage") or {}
                if usage.get("prompt_tokens") is not None:
                    prompt_tokens = int(usage["prompt_tokens"])
                details = usage.get("prompt_tokens_details") or {}
                if details.get("cached_tokens") is not None:
                    cached = int(details["cached_tokens"])
                timings = event.get("timings") or {}
                if timings.get("cache_n") is not None:
                    cached = int(timings["cache_n"])
                for choice in event.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content") or ""
                    if piece:
                        clock.token()
                        stream.emit(piece)
                    if choice.get("finish_reason"):
                        finished = True
                        reason = "length" if choice["finish_reason"] == "length" else "stop"
            if stream.cancelled.is_set():
                reason = "cancelled"  # the hang-up ends the response like an EOF
            elif not finished:
                raise LLMError(f"model server {self.url} ended the answer early after {clock.count} tokens "
                               "(the prompt may exceed its context; see the server's log)")
            stream.finish(self._stats(clock, prompt_tokens, cached, reason))
        finally:
            conn.close()


def _first_line(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    with contextlib.suppress(ValueError):
        parsed = json.loads(text)
        if isinstance(parsed, dict):
            error = parsed.get("error") or parsed.get("detail") or parsed
            text = error.get("message", str(error)) if isinstance(error, dict) else str(error)
    return (text.splitlines() or [""])[0][:300]
