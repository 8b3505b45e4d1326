"""The LLM engine: backends that stream tokens, prompts, context, guard, sessions.

Nothing here imports Textual. The UI and the headless ``ask``/``explain`` verbs
use :class:`alsate.engine.llm.analyst.Analyst`; the pieces below it are usable
on their own:

- :mod:`.backend` the streaming interface and its stats,
- :mod:`.backend_local` llama-cpp-python in a worker thread (the default),
- :mod:`.backend_remote` any OpenAI-compatible server,
- :mod:`.models` finding and checking GGUF files (the embedded SmolLM2),
- :mod:`.profiles` per-model system prompt, chat template, answer format,
- :mod:`.prompts` task prompts and the data boundary,
- :mod:`.guard` sanitising log text and checking model output,
- :mod:`.context` what goes into the prompt within a token budget,
- :mod:`.answer` parsing answers into fields,
- :mod:`.session` chat sessions with history and KV-cache reuse,
- :mod:`.analysis_cache` one explanation per (model, template, prompt version),
- :mod:`.chat_template` sandboxed Jinja chat templates,
- :mod:`.factory` options -> backend, profile, cache, analyst,
- :mod:`.cli_support` what ``alsate ask`` and ``alsate explain`` share.

See ``docs/llm.md``.
"""
