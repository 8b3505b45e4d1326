"""Is the data of a request log data at all? A check that needs no model.

A line the engine parsed as journal, syslog, nginx or Apache is a log. Text it could not place is a log
only if something in it reads like one: a ``name[pid]:`` tag, a time of day, an IP address, a severity
or failure word, ``key=value`` pairs, a daemon's name at the start, words systemd and the kernel
write. Text with none of these (a recipe, a question, a poem, a CSV table) is not explained: the
answer is the refusal sentence, and the model is not asked. The check leans to "log": a line with a
single cue goes to the model, which may still refuse it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from alsate.engine.records import Record, SourceKind

_CUES = re.compile(
    r"""
    \b[\w.@-]+\[\d+\]:                                      # sshd[812]:
    | \b\d{1,2}:\d{2}:\d{2}\b                                # 14:30:00
    | \b\d{1,3}(?:\.\d{1,3}){3}\b                            # 203.0.113.7
    | \b[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){3,7}\b               # an IPv6 address
    | \b(?:emerg|alert|crit|critical|err|error|errors|warn|warning|fatal|panic|exception|traceback
         |segfault|denied|refused|failed|failure|failing|timed\ out|timeout|unreachable|oom|killed
         |abort|aborted|corrupt|corrupted|invalid|unauthori[sz]ed|forbidden|overflow|deadlock)\b
    | \b(?:started|starting|stopped|stopping|reloaded|restarting|listening|session|pid|uid|gid
         |daemon|service|unit|mounted|unmounted|login|logged|authentication|connection|disconnected
         |kernel|systemd|sshd|sudo|cron|nginx|apache|postfix|docker|dockerd|containerd|kubelet)\b
    | \b(?:succeeded|shutdown|startup|restart|init|device|user|child|node|interface|socket|packet|disk
         |memory|cpu|module|driver|firmware|worker|scoreboard|port|ok|detected|available|endpoint|bios|ram
         |notify)\b
    | \b[\w.]+\(\)                                          # workerEnv.init()
    | (?<![\w:/])(?:/[\w.-]+){2,}                            # /etc/httpd/conf (not a URL's path)
    | \b0x[0-9a-f]+\b | \b[0-9a-f]{8,}\b                     # addresses, ids
    | (?:\b\w+=\S+.*){2}                                     # two key=value pairs
    | \b(?:GET|POST|PUT|DELETE|HEAD|PATCH|OPTIONS)\ /\S*     # an HTTP request
    """,
    re.IGNORECASE | re.VERBOSE,
)

PARSED_KINDS = frozenset({SourceKind.JOURNAL, SourceKind.SYSLOG, SourceKind.NGINX_ACCESS, SourceKind.NGINX_ERROR,
                          SourceKind.APACHE_ERROR})


def reads_like_a_log(text: str) -> bool:
    """Whether unplaced text has anything of a log line in it."""
    return _CUES.search(text) is not None


def not_a_log(records: Iterable[Record]) -> bool:
    """True when there are records and none is a log: none parsed in a log format, none reads like one."""
    seen = False
    for record in records:
        seen = True
        if record.kind in PARSED_KINDS or reads_like_a_log(record.raw or record.message):
            return False
    return seen


__all__ = ["PARSED_KINDS", "not_a_log", "reads_like_a_log"]
