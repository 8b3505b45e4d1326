"""The default backend: a GGUF model through llama-cpp-python, in one worker thread.

Loading starts in the background as soon as the backend is built; callers get
progress through ``on_progress`` and may stream at once (the request waits for
the load in the worker, never in the caller). The prompt is rendered with the
chat template, tokenized once, and evaluated in batches after the part the KV
cache already holds (the shared prefix of a follow-up), checking for cancel
between batches and between tokens, so ``cancel()`` takes effect within one
batch or one token.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from alsate.engine.llm.backend import GenerationRequest, GenerationStats, LLMError, StatsClock, TokenStream
from alsate.engine.llm.chat_template import render_chat
from alsate.engine.llm.models import ModelError, ModelSpec
from alsate.engine.llm.profiles import Profile, profile_for, read_asset
from alsate.engine.llm.sampling import sample_answer

#: Prompt tokens evaluated between two cancel checks. 64 tokens of the
#: embedded model take ~20 ms on 2 cores; big models take longer per batch.
PREFILL_CHUNK = 64


@dataclass(frozen=True)
class LoadProgress:
    phase: str  # "checking", "loading", "ready" or "failed"
    fraction: float
    message: str


ProgressCallback = Callable[[LoadProgress], None]


THREADS_ENV = "ALSATE_LLM_THREADS"


def default_threads() -> int:
    """``ALSATE_LLM_THREADS``, else all cores but one (the UI and the log readers need one), 1 to 8.

    On a busy 2-core box two llama.cpp threads spin against each other and
    everything else (decoding fell from 36 to 13 tokens/s in our test); one
    thread degrades gracefully.
    """
    raw = os.environ.get(THREADS_ENV, "")
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return max(1, min(8, (os.cpu_count() or 2) - 1))


class LocalBackend:
    name = "local"
    supports_prefill = True

    def __init__(
        self,
        spec: ModelSpec,
        *,
        profile: Profile | None = None,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        n_batch: int = 256,
        seed: int = 1234,
        on_progress: ProgressCallback | None = None,
        preempt: bool = True,
    ) -> None:
        self.spec = spec
        #: A new stream cancels the running and queued ones (the chat pane wants the newest answer).
        self.preempt = preempt
        self._streams: list[TokenStream] = []
        self.profile = profile or profile_for(spec.path.name)
        self._n_ctx = n_ctx or self.profile.n_ctx
        self._n_threads = n_threads or default_threads()
        self._n_batch = n_batch
        self._seed = seed
        self._on_progress = on_progress
        self._llm: Any = None
        self._template: str | None = None
        self._bos = ""
        self._eos = ""
        self._stop_ids: set[int] = set()
        self._is_eog: Callable[[int], bool] = lambda token: False
        self._abort_flag: ctypes.Array[ctypes.c_char] | None = None
        self._running: TokenStream | None = None
        self._abort_lock = threading.Lock()
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alsate-llm")
        self._loaded: Future[None] = self._executor.submit(self._load)

    # -- loading -------------------------------------------------------------
    def _progress(self, phase: str, fraction: float, message: str) -> None:
        if self._on_progress is not None:
            with contextlib.suppress(Exception):
                self._on_progress(LoadProgress(phase, fraction, message))

    def _load(self) -> None:
        path = self.spec.path
        self._progress("checking", 0.0, f"checking {path}")
        try:
            from alsate.engine.llm.sampling import llama_class

            Llama = llama_class()
            _quiet_llama_logs()
        except ImportError as exc:
            self._progress("failed", 1.0, str(exc))
            raise LLMError("llama-cpp-python is not installed; fix: pip install llama-cpp-python") from None
        self._progress("loading", 0.1, f"loading {path.name}")
        LLAMA_LOG.clear()
        try:
            llm = Llama(
                model_path=str(path),
                n_ctx=self._n_ctx,
                n_batch=self._n_batch,
                n_ubatch=self._n_batch,
                n_threads=self._n_threads,
                n_threads_batch=self._n_threads,
                seed=self._seed,
                lora_path=str(self.spec.lora_path) if self.spec.lora_path else None,
                verbose=False,
            )
        except Exception as exc:
            self._progress("failed", 1.0, str(exc))
            if isinstance(exc, MemoryError) or "llama_context" in str(exc):
                raise ModelError(
                    f"not enough memory for {path} with a {self._n_ctx}-token context; fix: lower --ctx "
                    f"(the profile's default is {self.profile.n_ctx}), free memory, or use a smaller model"
                ) from None
            reason = _load_error_reason(exc)
            raise ModelError(
                f"cannot load model {path}: {reason}; "
                "fix: check that the file is a complete GGUF model (re-download or re-export it), "
                "or pass --model PATH to another one"
            ) from None
        self._llm = llm
        self._abort_flag = _install_abort_flag(llm)
        self._progress("loading", 0.9, "reading chat template")
        metadata = getattr(llm, "metadata", {}) or {}
        self._template = (
            self.profile.chat_template
            or metadata.get("tokenizer.chat_template")
            or read_asset("profiles", "templates", "chatml.jinja")
        )
        self._bos = self._piece(llm.token_bos())
        self._eos = self._piece(llm.token_eos())
        self._stop_ids = {llm.token_eos()}
        self._is_eog = _eog_check(llm)
        for stop in self.profile.stop:
            ids = llm.tokenize(stop.encode(), add_bos=False, special=True)
            if len(ids) == 1:
                self._stop_ids.add(ids[0])
        self._progress("ready", 1.0, f"{path.name} ready ({self._n_ctx} tokens of context)")

    def _piece(self, token: int) -> str:
        if token < 0:
            return ""
        try:
            return self._llm.detokenize([token], special=True).decode("utf-8", "replace")
        except Exception:
            return ""

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until loaded (True), raise the load error, or False on timeout."""
        try:
            self._loaded.result(timeout)
        except TimeoutError:
            return False
        return True

    @property
    def ready(self) -> bool:
        return self._loaded.done() and self._loaded.exception() is None

    def _require(self) -> Any:
        self._loaded.result()
        if self._closed:
            raise LLMError("the model was closed")
        return self._llm

    # -- the Backend interface -------------------------------------------------
    @property
    def model_id(self) -> str:
        return self.spec.model_id

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def llama(self) -> Any:
        """The loaded ``llama_cpp.Llama`` (for benchmarks), after :meth:`wait_ready`."""
        return self._require()

    def count_tokens(self, text: str) -> int:
        llm = self._require()
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def render(self, request: GenerationRequest) -> str:
        """The prompt text the model sees: chat template, then the prefill."""
        self._require()
        text = render_chat(self._template or "", request.messages, bos_token=self._bos, eos_token=self._eos)
        return text + request.prefill

    def tokenize_prompt(self, request: GenerationRequest) -> list[int]:
        llm = self._require()
        text = self.render(request)
        add_bos = not (self._bos and text.startswith(self._bos))
        return llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def prompt_tokens(self, request: GenerationRequest) -> int:
        return len(self.tokenize_prompt(request))

    def stream(self, request: GenerationRequest) -> TokenStream:
        stream = TokenStream()
        clock = StatsClock()
        if self._closed:
            stream.fail(LLMError("the model was closed"))
            return stream
        stream.on_cancel(lambda: self._set_abort(stream))
        if self.preempt:
            for older in self._streams:
                older.cancel()
        self._streams = [s for s in self._streams if not s.done] + [stream]
        self._executor.submit(self._run, request, stream, clock)
        return stream

    def _set_abort(self, stream: TokenStream) -> None:
        # Only the stream that is running may interrupt llama_decode.
        with self._abort_lock:
            if self._abort_flag is not None and self._running is stream:
                self._abort_flag[0] = b"x"

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._llm is not None:
            with contextlib.suppress(Exception):
                self._llm.close()
            self._llm = None

    # -- generation (worker thread) ----------------------------------------------
    def _run(self, request: GenerationRequest, stream: TokenStream, clock: StatsClock) -> None:
        with self._abort_lock:
            if self._abort_flag is not None:
                self._abort_flag[0] = b"\0"
            self._running = stream
        try:
            if stream.cancelled.is_set():  # cancelled while queued
                stream.finish(self._stats(clock, 0, 0, "cancelled"))
                return
            self._generate(request, stream, clock)
        except BaseException as exc:  # hand every failure to the consumer
            if stream.cancelled.is_set() and not stream.done:
                # llama_decode was aborted mid-batch: the KV cells past n_tokens are dropped by the next eval
                stream.finish(self._stats(clock, None, None, "cancelled"))
                return
            if not isinstance(exc, LLMError):
                exc = LLMError(f"generation failed: {exc}")
            stream.fail(exc)
        finally:
            with self._abort_lock:
                self._running = None
                if self._abort_flag is not None:
                    self._abort_flag[0] = b"\0"

    def _stats(self, clock: StatsClock, prompt: int | None, cached: int | None, reason: str) -> GenerationStats:
        return GenerationStats(
            backend=self.name,
            model=self.spec.name,
            prompt_tokens=prompt,
            cached_tokens=cached,
            completion_tokens=clock.count,
            ttft_s=clock.ttft(),
            tokens_per_s=clock.rate(),
            total_s=clock.total(),
            finish_reason=reason,
        )

    def _generate(self, request: GenerationRequest, stream: TokenStream, clock: StatsClock) -> None:
        llm = self._require()
        tokens = self.tokenize_prompt(request)
        if len(tokens) + request.max_tokens > self._n_ctx:
            raise LLMError(
                f"prompt of {len(tokens)} tokens plus {request.max_tokens} for the answer exceeds "
                f"the model's context of {self._n_ctx} tokens"
            )
        # Reuse the KV cache for the longest prefix it shares with this prompt;
        # keep at least the last prompt token to evaluate (it yields the logits).
        held = llm.n_tokens
        cached = 0
        for a, b in zip(llm._input_ids[:held], tokens[:-1], strict=False):
            if a != b:
                break
            cached += 1
        if cached == 0:
            llm.reset()
        else:
            llm.n_tokens = cached  # eval() drops the KV cells past this point
        pending = tokens[cached:-1]
        for start in range(0, len(pending), PREFILL_CHUNK):
            if stream.cancelled.is_set():
                stream.finish(self._stats(clock, len(tokens), cached, "cancelled"))
                return
            llm.eval(pending[start:start + PREFILL_CHUNK])

        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        stops = tuple(s for s in request.stop if s)
        hold = max((len(s) for s in stops), default=1) - 1
        text = ""
        sent = 0
        reason = "length"
        cut_at_stop = False
        llm.dry = request.dry
        for token in sample_answer(
            llm,
            tokens,
            max_tokens=request.max_tokens,
            grammar=request.grammar,
            temp=request.temperature,
            top_p=request.top_p,
            repeat_penalty=request.repeat_penalty,
        ):
            if stream.cancelled.is_set():
                reason = "cancelled"
                break
            if token in self._stop_ids or self._is_eog(token):
                reason = "stop"
                break
            clock.token()
            text += decoder.decode(llm.detokenize([token]))
            safe = len(text)
            if stops:
                found = [i for i in (text.find(s, max(0, sent - hold)) for s in stops) if i >= 0]
                if found:
                    stream.emit(text[sent:min(found)])
                    reason, cut_at_stop = "stop", True
                    break
                safe = max(sent, len(text) - hold)
            stream.emit(text[sent:safe])
            sent = safe
            if clock.count >= request.max_tokens:
                break
        if not cut_at_stop:
            stream.emit(text[sent:] + decoder.decode(b"", final=True))
        stream.finish(self._stats(clock, len(tokens), cached, reason))


def _load_error_reason(exc: Exception) -> str:
    """The line that says why llama.cpp refused the file: its last error line, else the exception."""
    for line in reversed(LLAMA_LOG):
        if any(word in line.lower() for word in ("error", "fail", "invalid")):
            return line
    if LLAMA_LOG:
        return LLAMA_LOG[-1]
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _eog_check(llm: Any) -> Callable[[int], bool]:
    """``token -> bool``: whether the vocabulary marks ``token`` as an end of generation."""
    try:
        import llama_cpp

        vocab = llm._model.vocab
        check = llama_cpp.llama_vocab_is_eog
        check(vocab, llm.token_eos())
    except Exception:
        return lambda token: False
    return lambda token: bool(check(vocab, token))


#: The last error lines llama.cpp logged (it would print them on the terminal the UI draws on).
LLAMA_LOG: deque[str] = deque(maxlen=20)
_log_callback: Any = None


def _quiet_llama_logs() -> None:
    """Route llama.cpp's log lines to :data:`LLAMA_LOG` instead of stderr (once per process)."""
    global _log_callback
    if _log_callback is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback
    def keep(level: int, text: bytes, user_data: Any) -> None:
        if level in (2, 3):  # warnings and errors; info and debug are dropped
            line = text.decode("utf-8", "replace").strip()
            if line:
                LLAMA_LOG.append(line)

    _log_callback = keep
    llama_cpp.llama_log_set(keep, ctypes.c_void_p(0))


def _install_abort_flag(llm: Any) -> ctypes.Array[ctypes.c_char] | None:
    """Let cancel interrupt ``llama_decode`` between graph nodes, without the GIL.

    llama.cpp calls the abort callback with its data pointer between nodes of
    the compute graph and stops when it returns true. The callback is libc's
    ``strlen`` and the data a two-byte buffer: it returns 0 while the buffer is
    empty and 1 once :meth:`LocalBackend._set_abort` writes a byte, so the
    check costs a few nanoseconds and never enters Python. Where this is not
    available, cancel still works between tokens and prefill batches.
    """
    try:
        import llama_cpp

        libc = ctypes.CDLL(None)
        address = ctypes.cast(libc.strlen, ctypes.c_void_p).value
        flag = ctypes.create_string_buffer(2)
        callback = llama_cpp.ggml_abort_callback(address)
        llama_cpp.llama_set_abort_callback(llm._ctx.ctx, callback, ctypes.cast(flag, ctypes.c_void_p))
    except Exception:
        return None
    llm._alsate_abort = (callback, flag)  # keep both alive as long as the context
    return flag


def open_local(spec: ModelSpec, **kwargs: Any) -> LocalBackend:
    """Build a :class:`LocalBackend` (loading starts in the background)."""
    return LocalBackend(spec, **kwargs)

