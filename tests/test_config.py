from __future__ import annotations

from pathlib import Path

import pytest
from alsate.engine.config import Config, load_config, parse_setting
from alsate.engine.errors import UserError


def test_defaults_when_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ALSATE_CONFIG_DIR", str(tmp_path / "none"))
    assert load_config() == Config()


def test_default_location_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ALSATE_CONFIG_DIR", str(tmp_path))
    (tmp_path / "config.toml").write_text('max_priority = 3\nnginx_log_format = "common"\n'
                                          '[[files]]\npath = "/var/log/app.log"\nformat = "syslog"\n')
    config = load_config()
    assert config.max_priority == 3 and config.nginx_log_format == "common"
    assert config.files[0].path == "/var/log/app.log" and config.files[0].format == "syslog"


def test_settings_and_environment_override_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "c.toml"
    path.write_text("max_priority = 3\nstore_capacity = 10\n")
    config = load_config(path, ["store_capacity=500", "use_effective_priority=false", "nginx_glob=/srv/*.log"])
    assert (config.max_priority, config.store_capacity, config.use_effective_priority) == (3, 500, False)
    assert config.nginx_glob == "/srv/*.log"
    monkeypatch.setenv("ALSATE_MAX_PRIORITY", "6")
    assert load_config(path).max_priority == 6


@pytest.mark.parametrize(("text", "message"), [
    ("max_priority = 9\n", "max_priority must be 0-7"),
    ("max_priority = 'loud'\n", "must be an integer"),
    ("colour = true\n", "unknown option 'colour'"),
    ("max_priority = \n", "config file"),
    ("[[files]]\nformat = 'syslog'\n", "needs a path"),
])
def test_bad_config_is_a_one_line_user_error(tmp_path: Path, text: str, message: str):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        load_config(path)


def test_missing_explicit_config_is_an_error(tmp_path: Path):
    with pytest.raises(UserError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_parse_setting_reads_toml_values():
    assert parse_setting("a=3") == ("a", 3)
    assert parse_setting("b = true") == ("b", True)
    assert parse_setting("c=/var/log/*.log") == ("c", "/var/log/*.log")
    with pytest.raises(UserError):
        parse_setting("novalue")
