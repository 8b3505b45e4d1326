from __future__ import annotations

from pathlib import Path

import pytest
from alsate.engine.config import Config, FileSpec
from alsate.engine.errors import SourceError
from alsate.engine.records import SourceKind
from alsate.engine.sources import (
    FileOptions,
    FileSource,
    JournalFilter,
    JournalSource,
    discover,
    open_sources,
)


def test_discovers_nginx_logs_and_config_files(tmp_path: Path):
    nginx = tmp_path / "nginx"
    nginx.mkdir()
    (nginx / "access.log").write_text('192.0.2.1 - - [01/May/2024:00:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "x"\n')
    (nginx / "error.log").write_text("2024/05/01 00:00:01 [error] 1#1: *1 boom, client: 192.0.2.1\n")
    (nginx / "access.log.1").write_text("rotated\n")
    app = tmp_path / "app.log"
    app.write_text("May  1 00:00:01 h app[1]: started\n")
    config = Config(journal=False, nginx_glob=str(nginx / "*.log"), files=(FileSpec(str(app)),))
    found = discover(config, JournalFilter(), FileOptions())
    kinds = {Path(s.origin).name: s.kind for s in found if isinstance(s, FileSource)}
    assert kinds == {"access.log": SourceKind.NGINX_ACCESS, "error.log": SourceKind.NGINX_ERROR,
                     "app.log": SourceKind.SYSLOG}


def test_configured_journal_directory_is_used(tmp_path: Path, journal_files: Path):
    config = Config(journal_directory=str(journal_files.parent), nginx_glob=str(tmp_path / "none" / "*.log"))
    found = discover(config, JournalFilter(), FileOptions())
    assert len(found) == 1 and isinstance(found[0], JournalSource)
    assert len(list(found[0].records())) == 13


def test_unreadable_journal_is_reported_and_the_other_sources_go_on(tmp_path: Path):
    log = tmp_path / "a.log"
    log.write_text("May  1 00:00:01 h app[1]: ERROR x\n")
    problems: list[str] = []
    sources = open_sources([str(log)], Config(), JournalFilter(), journal_directories=[str(tmp_path / "gone")],
                           problems=problems)
    assert [s.origin for s in sources] == [str(log)]
    assert problems and "no such directory" in problems[0]
    with pytest.raises(SourceError):
        open_sources([], Config(), JournalFilter(), journal_directories=[str(tmp_path / "gone")], problems=[])
