"""Render chat messages with a Jinja chat template (the model's or a profile's).

The sandboxed environment keeps a template from a GGUF file from doing more
than string work.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from alsate.engine.llm.backend import LLMError, Message


def _raise(message: str) -> None:
    raise LLMError(f"chat template error: {message}")


@lru_cache(maxsize=8)
def _compile(source: str):
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(source)


def render_chat(source: str, messages: Sequence[Message], *, bos_token: str = "", eos_token: str = "",
                add_generation_prompt: bool = True) -> str:
    try:
        template = _compile(source)
        return template.render(
            messages=[m.to_json() for m in messages],
            add_generation_prompt=add_generation_prompt,
            bos_token=bos_token,
            eos_token=eos_token,
        )
    except LLMError:
        raise
    except Exception as exc:  # a broken template from a GGUF file
        raise LLMError(f"cannot render the chat template: {exc}") from None
