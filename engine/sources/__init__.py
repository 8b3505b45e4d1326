"""Log sources: the journal, log files, standard input; and what a machine has (discovery)."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence

from alsate.engine.config import Config
from alsate.engine.errors import SourceError
from alsate.engine.formats import StatusPriorities
from alsate.engine.sources.files import FileOptions, FileSource, rotated_siblings
from alsate.engine.sources.journal import JournalFilter, JournalSource

Source = FileSource | JournalSource

JOURNAL_DIRS = ("/var/log/journal", "/run/log/journal")


def statuses_from(config: Config) -> StatusPriorities:
    return StatusPriorities(config.status_server_error, config.status_client_error, config.status_other)


def local_journal_present() -> bool:
    """Whether this machine has journal files (persistent or volatile) to read."""
    for directory in JOURNAL_DIRS:
        for _root, _dirs, files in os.walk(directory):
            if any(name.endswith(".journal") for name in files):
                return True
    return False


def nginx_logs(pattern: str) -> list[str]:
    """Current nginx logs matching ``pattern`` (rotated copies left out)."""
    return sorted(path for path in glob.glob(pattern)
                  if path.endswith(".log") and os.path.isfile(path) and os.access(path, os.R_OK))


def open_source(spec: str, options: FileOptions, journal_filter: JournalFilter) -> Source:
    """One source from a command-line word: ``journal``, ``-`` (stdin), a ``.journal`` file, or a log file."""
    if spec == "journal":
        return JournalSource(filter=journal_filter)
    if spec.endswith((".journal", ".journal~")):
        return JournalSource(files=[spec], filter=journal_filter)
    if os.path.isdir(spec) and glob.glob(os.path.join(glob.escape(spec), "**", "*.journal"), recursive=True):
        return JournalSource(directory=spec, filter=journal_filter)
    return FileSource(spec, options)


def open_sources(specs: Sequence[str], config: Config, journal_filter: JournalFilter,
                 options: FileOptions | None = None, with_rotated: bool = False,
                 journal_directories: Sequence[str] = (), problems: list[str] | None = None) -> list[Source]:
    """The sources named on the command line, or discovered when none are named.

    A journal the user may not read does not stop the others: its error is appended to ``problems``
    (when given) and the remaining sources are returned; it is raised only when nothing else is left.
    """
    options = options or FileOptions(log_format=config.nginx_log_format, statuses=statuses_from(config))
    sources: list[Source] = []
    journal_problems: list[str] = []
    for directory in journal_directories:
        try:
            sources.append(JournalSource(directory=directory, filter=journal_filter))
        except SourceError as exc:
            journal_problems.append(str(exc))
    for spec in specs:
        paths = rotated_siblings(spec) if with_rotated and spec not in ("-", "journal") else [spec]
        for path in paths:
            try:
                sources.append(open_source(path, options, journal_filter))
            except SourceError as exc:
                if not _is_journal(path):
                    raise
                journal_problems.append(str(exc))
    if not specs and not journal_directories:
        sources.extend(discover(config, journal_filter, options))
    if journal_problems:
        if not sources or problems is None:
            raise SourceError(journal_problems[0])
        problems.extend(journal_problems)
    return sources


def _is_journal(spec: str) -> bool:
    return spec == "journal" or spec.endswith((".journal", ".journal~")) or os.path.isdir(spec)


def discover(config: Config, journal_filter: JournalFilter, options: FileOptions) -> list[Source]:
    """This machine's logs: the journal when present, nginx logs, and the files the config names."""
    found: list[Source] = []
    if config.journal_directory:
        found.append(JournalSource(directory=config.journal_directory, filter=journal_filter))
    elif config.journal and local_journal_present():
        found.append(JournalSource(filter=journal_filter))
    for path in nginx_logs(config.nginx_glob):
        found.append(FileSource(path, options))
    for spec in config.files:
        file_options = FileOptions(kind=spec.format, log_format=spec.log_format or options.log_format,
                                   statuses=options.statuses)
        found.append(FileSource(os.path.expanduser(spec.path), file_options))
    return found


__all__ = ["FileOptions", "FileSource", "JournalFilter", "JournalSource", "Source", "discover", "open_source",
           "open_sources", "rotated_siblings", "statuses_from"]
