"""LLM engine benchmark, one run, one model, one prompt.

1. Streaming tokens/s through the engine (LocalBackend -> TokenStream, timed
   where the consumer receives the pieces) against a bare llama-cpp-python
   ``create_completion(stream=True)`` on the same Llama object and prompt.
   Target: ratio >= 0.95.
2. Time to first token of a follow-up question that reuses the KV cache,
   against the same request with the cache cleared. Target: <= 0.25x.
3. Time to first token on the embedded model for a ~500-token context.

    .venv/bin/python bench/llm_bench.py [--model GGUF] [--runs 7] [--ttft-runs 3] [--tokens 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time

from alsate.engine.llm.analyst import Analyst
from alsate.engine.llm.backend import GenerationRequest, Message
from alsate.engine.llm.backend_local import LocalBackend
from alsate.engine.llm.context import assemble
from alsate.engine.llm.models import resolve_model
from alsate.engine.records import Record

STORY = "Describe, step by step and in detail, how nginx handles one HTTP request from accept() to the access log."


def decode_rate(stamps: list[float]) -> float:
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0


def thread_cpu(thread: threading.Thread) -> float:
    """CPU seconds a thread has used (robust to other load on the machine, unlike wall time)."""
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def worker_thread() -> threading.Thread:
    return next(t for t in threading.enumerate() if t.name.startswith("alsate-llm"))


def bare_run(llm, prompt: str, tokens: int) -> tuple[float, int, float]:
    """(tokens/s, pieces, CPU seconds per piece) of create_completion(stream=True) in this thread."""
    llm.reset()
    stamps = []
    cpu0 = time.thread_time()
    for _chunk in llm.create_completion(prompt, max_tokens=tokens, temperature=0.0, top_p=0.95,
                                        repeat_penalty=1.1, stream=True):
        stamps.append(time.perf_counter())
    return decode_rate(stamps), len(stamps), (time.thread_time() - cpu0) / max(1, len(stamps))


def engine_run(backend: LocalBackend, request: GenerationRequest) -> tuple[float, int, float]:
    """The same through the engine; CPU counts the worker thread and this (consuming) thread."""
    backend.llama.reset()
    worker = worker_thread()
    stamps = []
    cpu0 = time.thread_time() + thread_cpu(worker)
    for _piece in backend.stream(request):
        stamps.append(time.perf_counter())
    cpu = time.thread_time() + thread_cpu(worker) - cpu0
    return decode_rate(stamps), len(stamps), cpu / max(1, len(stamps))


def log_records(count: int) -> list[Record]:
    base = 1_790_000_000.0
    lines = [
        "connect() to unix:/run/php/php8.2-fpm.sock failed (111: Connection refused) while connecting to upstream",
        "upstream timed out (110: Connection timed out) while reading response header from upstream",
        "php8.2-fpm.service: Main process exited, code=killed, status=9/KILL",
        "Out of memory: Killed process 4242 (php-fpm8.2) total-vm:812345kB, anon-rss:402312kB",
    ]
    return [Record(ts=base + i, host="web1", kind="syslog", unit="nginx.service", pid=811, priority=3, effective=3,
                   message=lines[i % len(lines)] + f" client: 198.51.100.{i % 250}", raw="", extra=None,
                   origin="/var/log/nginx/error.log", pos=i * 200) for i in range(count)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="GGUF file (default: the embedded SmolLM2)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--ttft-runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    spec = resolve_model(args.model)
    backend = LocalBackend(spec, n_ctx=2048)
    backend.wait_ready()
    llm = backend.llama
    results: dict[str, object] = {"model": spec.path.name, "threads": backend._n_threads}

    # 1. streaming throughput, engine vs bare, alternating runs
    request = GenerationRequest(messages=(Message("user", STORY),), max_tokens=args.tokens, temperature=0.0,
                                repeat_penalty=1.1)
    prompt = backend.render(request)
    bare_run(llm, prompt, 16)  # warm-up
    engine_run(backend, request)
    bare, engine, bare_cpu, engine_cpu = [], [], [], []
    n_bare = n_engine = 0
    for i in range(args.runs):  # alternate which goes first, so load changes hit both alike
        order = ("bare", "engine") if i % 2 == 0 else ("engine", "bare")
        for which in order:
            if which == "bare":
                rate, n_bare, cpu = bare_run(llm, prompt, args.tokens)
                bare.append(rate)
                bare_cpu.append(cpu)
            else:
                rate, n_engine, cpu = engine_run(backend, request)
                engine.append(rate)
                engine_cpu.append(cpu)
    results["bare_tokens_per_s"] = round(statistics.median(bare), 1)
    results["engine_tokens_per_s"] = round(statistics.median(engine), 1)
    results["tokens_bare_engine"] = [n_bare, n_engine]
    results["stream_ratio"] = round(statistics.median(engine) / statistics.median(bare), 3)
    results["bare_cpu_ms_per_token"] = round(statistics.median(bare_cpu) * 1000, 2)
    results["engine_cpu_ms_per_token"] = round(statistics.median(engine_cpu) * 1000, 2)
    # tokens per CPU-second, engine over bare: the same ratio with other load on the machine taken out
    results["stream_cpu_ratio"] = round(statistics.median(bare_cpu) / statistics.median(engine_cpu), 3)

    # 2. follow-up TTFT, KV cache reused vs cleared
    analyst = Analyst(backend, backend.profile, max_tokens=48, temperature=0.0)
    warm, cold = [], []
    for _ in range(args.ttft_runs):
        llm.reset()
        started = analyst.explain(log_records(12), use_cache=False)
        started.stream.collect()
        follow = started.session.ask("Which unit should I look at first, and with which command?").collect()
        warm.append(follow.stats.ttft_s)
        same = GenerationRequest(messages=started.session.messages[:-1], max_tokens=48, temperature=0.0)
        llm.reset()
        cold_stream = backend.stream(same)
        cold_stream.text()
        cold.append(cold_stream.stats.ttft_s)
        results["followup_prompt_tokens"] = follow.stats.prompt_tokens
        results["followup_cached_tokens"] = follow.stats.cached_tokens
    results["followup_ttft_warm_s"] = round(statistics.median(warm), 4)
    results["followup_ttft_cold_s"] = round(statistics.median(cold), 4)
    results["followup_ttft_ratio"] = round(statistics.median(warm) / statistics.median(cold), 3)

    # 3. first token for a ~500-token context on this model
    ttfts = []
    for _ in range(args.ttft_runs):
        context = assemble(backend.count_tokens, 500, selected=log_records(40))
        req = GenerationRequest(messages=(Message("user", "Summarize these log entries:\n" + context.body),),
                                max_tokens=8, temperature=0.0)
        llm.reset()
        stream = backend.stream(req)
        stream.text()
        ttfts.append(stream.stats.ttft_s)
        results["ttft_500_prompt_tokens"] = stream.stats.prompt_tokens
    results["ttft_500_s"] = round(statistics.median(ttfts), 4)
    backend.close()

    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        print(f"model {results['model']} on {results['threads']} threads; medians of {args.runs} streaming runs, "
              f"{args.ttft_runs} first-token runs")
        print(f"streaming: engine {results['engine_tokens_per_s']} tok/s vs bare llama-cpp-python "
              f"{results['bare_tokens_per_s']} tok/s -> ratio {results['stream_ratio']} (target >= 0.95)")
        print(f"streaming, CPU per token: engine {results['engine_cpu_ms_per_token']} ms (worker + consumer) vs "
              f"bare {results['bare_cpu_ms_per_token']} ms -> tokens per CPU-second ratio "
              f"{results['stream_cpu_ratio']}")
        print(f"follow-up TTFT: {results['followup_ttft_warm_s'] * 1000:.1f} ms with KV cache "
              f"({results['followup_cached_tokens']} of {results['followup_prompt_tokens']} prompt tokens reused) vs "
              f"{results['followup_ttft_cold_s'] * 1000:.1f} ms cold -> {results['followup_ttft_ratio']}x "
              "(target <= 0.25x)")
        print(f"first token, {results['ttft_500_prompt_tokens']}-token prompt: {results['ttft_500_s'] * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
