"""Model profiles: per-model system prompt, chat-template override, answer format.

Profiles are JSON files in ``alsate.assets/profiles/``; a profile's
``system_prompt`` names a text file in ``alsate.assets/prompts/`` and its
``chat_template`` (or ``null`` for the model's own) a Jinja file in
``profiles/templates/``. :func:`profile_for` picks the first profile whose
``match`` words appear in the model's file name or GGUF ``general.name``,
else ``generic``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from alsate.engine.errors import UserError
from alsate.engine.llm.sampling import DRY_BREAKERS, Dry

DEFAULT_PROFILE = "generic"


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    match: tuple[str, ...]
    system_prompt: str  # the text, loaded
    system_prompt_file: str
    system_prompt_verified: bool
    chat_template: str | None  # Jinja source of the override, or None
    answer_format: str
    n_ctx: int
    temperature: float
    repeat_penalty: float
    max_tokens: int
    stop: tuple[str, ...]
    prefill: dict[str, str] = field(default_factory=dict, hash=False)
    #: False: a fine-tuned LoRA adapter writes the format itself (and may refuse), so no prefill with one.
    prefill_with_adapter: bool = True
    #: DRY against loops (alsate.engine.llm.sampling); off unless the profile sets ``dry_multiplier``.
    dry: Dry = field(default_factory=Dry)
    #: Hold the structured answers to their format with a grammar (alsate.engine.llm.grammar).
    answer_grammar: bool = False

    def prefill_for(self, task: str, *, adapter: bool = False) -> str:
        if adapter and not self.prefill_with_adapter:
            return ""
        return self.prefill.get(task, "")


def _assets():
    return resources.files("alsate.assets")


def read_asset(*parts: str) -> str:
    node = _assets()
    for part in parts:
        node = node.joinpath(part)
    try:
        return node.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        raise UserError(f"missing asset {'/'.join(parts)} in alsate.assets; reinstall alsate") from None


def profile_names() -> list[str]:
    folder = _assets().joinpath("profiles")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


@cache
def load_profile(name: str) -> Profile:
    if name not in profile_names():
        raise UserError(f"unknown model profile {name!r}; known: {', '.join(profile_names())}")
    data: dict[str, Any] = json.loads(read_asset("profiles", f"{name}.json"))
    template_name = data.get("chat_template")
    return Profile(
        name=data["name"],
        description=data.get("description", ""),
        match=tuple(w.lower() for w in data.get("match", [])),
        system_prompt=read_asset("prompts", data["system_prompt"]).strip(),
        system_prompt_file=data["system_prompt"],
        system_prompt_verified=bool(data.get("system_prompt_verified", True)),
        chat_template=read_asset("profiles", "templates", f"{template_name}.jinja") if template_name else None,
        answer_format=data.get("answer_format", "alsate-v1"),
        n_ctx=int(data.get("n_ctx", 4096)),
        temperature=float(data.get("temperature", 0.2)),
        repeat_penalty=float(data.get("repeat_penalty", 1.1)),
        max_tokens=int(data.get("max_tokens", 384)),
        stop=tuple(data.get("stop", [])),
        prefill=dict(data.get("prefill", {})),
        prefill_with_adapter=bool(data.get("prefill_with_adapter", True)),
        dry=Dry(float(data.get("dry_multiplier", 0.0)), float(data.get("dry_base", 1.75)),
                int(data.get("dry_allowed_length", 2)),
                tuple(data.get("dry_breakers", DRY_BREAKERS))),
        answer_grammar=bool(data.get("answer_grammar", False)),
    )


def profile_for(*names: str | None) -> Profile:
    """The profile whose match words appear in any of ``names`` (file name, GGUF name)."""
    haystack = " ".join(n.lower() for n in names if n)
    for name in profile_names():
        if name == DEFAULT_PROFILE:
            continue
        profile = load_profile(name)
        if any(word in haystack for word in profile.match):
            return profile
    return load_profile(DEFAULT_PROFILE)
