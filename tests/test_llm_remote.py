"""The remote backend against a real ``python -m llama_cpp.server`` on 127.0.0.1 serving the embedded model."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from alsate.engine.llm.analyst import Analyst
from alsate.engine.llm.backend import GenerationRequest, LLMError, Message
from alsate.engine.llm.backend_remote import RemoteBackend
from alsate.engine.llm.models import resolve_model
from llm_fixtures import cancel_mid_stream_within_100ms, records

pytestmark = pytest.mark.slow

pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server] (uvicorn, fastapi, sse-starlette)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    model = resolve_model().path
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "2048", "--n_threads", "1", "--model_alias", "smollm2-135m"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/v1/models", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("llama_cpp.server did not start within 60 s")
        time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_remote_streams_with_stats(server):
    backend = RemoteBackend(server + "/v1")
    assert backend.model == "smollm2-135m" and backend.model_id == "remote:smollm2-135m"
    request = GenerationRequest(messages=(Message("user", "What does HTTP 502 mean?"),), max_tokens=32)
    stream = backend.stream(request)
    pieces = list(stream)
    stats = stream.stats
    assert len(pieces) > 3 and "".join(pieces).strip()
    assert stats.backend == "remote" and 0 < stats.completion_tokens <= 32
    assert stats.ttft_s is not None and stats.tokens_per_s and stats.tokens_per_s > 0
    assert stats.finish_reason in ("stop", "length")


def test_remote_sends_repeat_penalty_dry_and_grammar_as_llama_cpp_servers_read_them(server):
    from alsate.engine.llm.grammar import AnswerGrammar, answer_grammar
    from alsate.engine.llm.sampling import Dry

    backend = RemoteBackend(server + "/v1")
    plain = GenerationRequest(messages=(Message("user", "What does HTTP 502 mean?"),), max_tokens=16,
                              repeat_penalty=1.0)
    body = backend.request_body(plain)
    assert "repeat_penalty" not in body and not any(key.startswith("dry_") for key in body)
    assert "grammar" not in body
    tuned = GenerationRequest(messages=plain.messages, max_tokens=16, repeat_penalty=1.05,
                              dry=Dry(0.8, 1.75, 2, ("\n", "*")), grammar=AnswerGrammar("explain"))
    body = backend.request_body(tuned)
    assert body["repeat_penalty"] == 1.05
    assert (body["dry_multiplier"], body["dry_base"], body["dry_allowed_length"]) == (0.8, 1.75, 2)
    assert body["dry_sequence_breakers"] == ["\n", "*"] and body["grammar"] == answer_grammar("explain")
    stream = backend.stream(tuned)  # llama_cpp.server: the answer follows the grammar (and DRY is ignored)
    text = "".join(stream)
    assert text.startswith("Cause - ") or text.startswith("This is not a log entry"), text


def test_remote_counts_tokens_with_the_servers_tokenizer(server):
    backend = RemoteBackend(server)
    text = "Failed password for invalid user oracle from 203.0.113.9 port 52814 ssh2"
    from llama_cpp import Llama

    vocab = Llama(str(resolve_model().path), vocab_only=True, verbose=False)
    assert backend.count_tokens(text) == len(vocab.tokenize(text.encode(), add_bos=False, special=True))


def test_remote_session_with_profile_and_followup(server):
    backend = RemoteBackend(server)
    profile = backend._profile()
    assert profile.name == "smollm2"  # matched by the served model's name
    analyst = Analyst(backend, profile, max_tokens=32, temperature=0.0)
    started = analyst.explain(records(["nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)"]),
                              use_cache=False)
    first = started.stream.collect()
    assert first.text.strip() and first.stats.backend == "remote"
    follow = started.session.ask("Which command shows what holds port 80?").collect()
    assert follow.text.strip()
    assert [m.role for m in started.session.history] == ["user", "assistant", "user", "assistant"]


def test_remote_cancel_within_100ms(server):
    backend = RemoteBackend(server)
    cancel_mid_stream_within_100ms(backend)
    # the server is still usable afterwards
    again = backend.stream(GenerationRequest(messages=(Message("user", "hi"),), max_tokens=4))
    assert again.text() is not None and again.stats.completion_tokens >= 1


def test_unreachable_server_is_a_one_line_error():
    backend = RemoteBackend(f"http://127.0.0.1:{free_port()}/v1", model="x")
    stream = backend.stream(GenerationRequest(messages=(Message("user", "hi"),), max_tokens=4))
    with pytest.raises(LLMError, match=r"cannot reach the model server at http://127\.0\.0\.1:\d+/v1") as info:
        stream.text()
    assert "\n" not in str(info.value)
    with pytest.raises(LLMError, match="bad server URL"):
        RemoteBackend("ftp://example")


def test_server_errors_are_reported(server):
    backend = RemoteBackend(server)
    too_long = GenerationRequest(messages=(Message("user", "word " * 3000),), max_tokens=8)
    with pytest.raises(LLMError, match="answered 400|ended the answer early") as info:
        backend.stream(too_long).text()
    assert "\n" not in str(info.value)
    assert json.dumps(str(info.value))
