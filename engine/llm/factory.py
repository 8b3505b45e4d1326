"""Build the backend, profile and cache from options (CLI flags, config, environment)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from alsate.engine.llm.analysis_cache import AnalysisCache
from alsate.engine.llm.analyst import Analyst
from alsate.engine.llm.backend import Backend
from alsate.engine.llm.profiles import Profile, load_profile, profile_for

REMOTE_ENV = "ALSATE_REMOTE"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LLMOptions:
    model: str | None = None  # GGUF path (--model)
    lora: str | None = None
    remote: str | None = None  # OpenAI-compatible base URL (--remote)
    remote_model: str | None = None
    profile: str | None = None  # force a profile by name
    n_ctx: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    use_cache: bool = True
    config_model: str | None = None  # model path from the config file


def open_backend(options: LLMOptions, on_progress=None) -> tuple[Backend, Profile]:
    """The backend the options ask for, and the profile that goes with its model."""
    remote = options.remote or os.environ.get(REMOTE_ENV) or None
    forced = load_profile(options.profile) if options.profile else None
    if remote:
        from alsate.engine.llm.backend_remote import RemoteBackend

        backend = RemoteBackend(remote, model=options.remote_model, profile=forced, n_ctx=options.n_ctx)
        return backend, backend._profile()
    from alsate.engine.llm.backend_local import LocalBackend
    from alsate.engine.llm.models import resolve_model

    spec = resolve_model(options.model, options.config_model, options.lora)
    profile = forced or profile_for(spec.path.name)
    local = LocalBackend(spec, profile=profile, n_ctx=options.n_ctx, on_progress=on_progress)
    return local, profile


def open_analyst(options: LLMOptions, on_progress=None) -> Analyst:
    backend, profile = open_backend(options, on_progress)
    cache = None
    if options.use_cache:
        try:
            cache = AnalysisCache()
        except Exception as exc:  # an unwritable or full cache dir only costs time
            log.warning("analysis cache not used: %s", getattr(exc, "strerror", None) or exc)
            cache = None
    return Analyst(backend, profile, cache=cache, max_tokens=options.max_tokens, temperature=options.temperature)
