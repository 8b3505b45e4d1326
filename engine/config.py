"""alsate's configuration: ``~/.config/alsate/config.toml``, every option also a flag.

Precedence: built-in defaults < config file < environment (``ALSATE_*``) < flags.
Cache and state live under the platformdirs cache/state directories
(``ALSATE_CACHE_DIR`` / ``ALSATE_STATE_DIR`` override them, for tests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import tomllib
from alsate.engine.errors import UserError
from alsate.engine.records import DEFAULT_MAX_PRIORITY

APP = "alsate"


def config_dir() -> Path:
    if os.environ.get("ALSATE_CONFIG_DIR"):
        return Path(os.environ["ALSATE_CONFIG_DIR"])
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP))


def cache_dir() -> Path:
    if os.environ.get("ALSATE_CACHE_DIR"):
        return Path(os.environ["ALSATE_CACHE_DIR"])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP))


def state_dir() -> Path:
    if os.environ.get("ALSATE_STATE_DIR"):
        return Path(os.environ["ALSATE_STATE_DIR"])
    from platformdirs import user_state_dir

    return Path(user_state_dir(APP))


def default_config_path() -> Path:
    return config_dir() / "config.toml"


@dataclass(frozen=True)
class FileSpec:
    """A log file named in the config: ``[[files]] path = ..., format = ..., log_format = ...``."""

    path: str
    format: str | None = None
    log_format: str | None = None


@dataclass(frozen=True)
class Config:
    """Every option alsate has; each one can also be given as a flag."""

    max_priority: int = DEFAULT_MAX_PRIORITY
    use_effective_priority: bool = True
    journal: bool = True  # read the local journal when discovering sources
    journal_directory: str | None = None
    nginx_glob: str = "/var/log/nginx/*.log"
    nginx_log_format: str = "combined"
    status_server_error: int = 3
    status_client_error: int = 4
    status_other: int = 6
    store_capacity: int = 1_000_000
    reorder_window: float = 0.5
    files: tuple[FileSpec, ...] = field(default_factory=tuple)
    model: str | None = None
    findings_max_priority: int = DEFAULT_MAX_PRIORITY


_ENV = {"max_priority": "ALSATE_MAX_PRIORITY", "model": "ALSATE_MODEL", "store_capacity": "ALSATE_STORE_CAPACITY"}


def _coerce(name: str, value: Any, kind: type) -> Any:
    if kind is bool and not isinstance(value, bool):
        raise UserError(f"config: {name} must be true or false")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise UserError(f"config: {name} must be an integer")
    if kind is float and not isinstance(value, (int, float)):
        raise UserError(f"config: {name} must be a number")
    if kind is str and not isinstance(value, str):
        raise UserError(f"config: {name} must be a string")
    return float(value) if kind is float else value


def parse_setting(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from ``--set``: the value is read as TOML (``3``, ``true``, ``"x"``), else as a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set takes KEY=VALUE, got {text!r}")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    return key.strip(), parsed


def load_config(path: str | os.PathLike | None = None, settings: list[str] | tuple[str, ...] = ()) -> Config:
    """The config from ``path`` (default location when None; missing default file = defaults),
    then ``settings`` (``KEY=VALUE`` strings from ``--set``) on top."""
    explicit = path is not None
    target = Path(path) if explicit else default_config_path()
    values: dict[str, Any] = {}
    if target.exists() or explicit:
        try:
            with open(target, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise UserError(f"config file {target} does not exist") from None
        except PermissionError:
            raise UserError(f"config file {target}: permission denied") from None
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"config file {target}: {exc}") from None
        values.update(_check(data, f"config file {target}"))
    values.update(_check(dict(parse_setting(item) for item in settings), "--set"))
    config = Config(**values)
    for name, env in _ENV.items():
        if os.environ.get(env):
            raw = os.environ[env]
            try:
                config = replace(config, **{name: int(raw) if name != "model" else raw})
            except ValueError:
                raise UserError(f"{env} must be an integer, got {raw!r}") from None
    if not 0 <= config.max_priority <= 7:
        raise UserError(f"max_priority must be 0-7, got {config.max_priority}")
    return config


def _check(data: dict[str, Any], where: str) -> dict[str, Any]:
    types = {f.name: f.type for f in fields(Config)}
    simple = {"int": int, "bool": bool, "float": float, "str": str, "str | None": str}
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name == "files":
            if not isinstance(value, list):
                raise UserError(f"{where}: files must be a list of [[files]] tables")
            values["files"] = tuple(_file_spec(item) for item in value)
            continue
        if name not in types:
            known = ", ".join(sorted(types))
            raise UserError(f"{where}: unknown option {key!r} (known: {known})")
        values[name] = _coerce(key, value, simple.get(str(types[name]), str))
    return values


def _file_spec(item: Any) -> FileSpec:
    if isinstance(item, str):
        return FileSpec(item)
    if not isinstance(item, dict) or "path" not in item:
        raise UserError("config: each [[files]] entry needs a path")
    unknown = set(item) - {"path", "format", "log_format"}
    if unknown:
        raise UserError(f"config: unknown key(s) in [[files]]: {', '.join(sorted(unknown))}")
    return FileSpec(item["path"], item.get("format"), item.get("log_format"))
