"""Log text goes into prompts as data; model output comes back as untrusted text.

Two halves:

- :func:`sanitize` cleans one piece of log text before it enters a prompt:
  ANSI/OSC escape sequences, control characters, bidi overrides and
  chat-template special tokens are removed, so a log line cannot close the
  user turn, open a system turn or repaint the terminal.
- :func:`check_output` reads an answer and flags dangerous commands (pipe to a
  shell, ``rm -rf /``, ``chmod 777``, new users or SSH keys, a disabled
  firewall) and commands or URLs copied verbatim from the log content. A
  flagged answer is shown with its flags; nothing here, or anywhere in alsate,
  executes model output.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

# --- sanitising log text -----------------------------------------------------

_ANSI = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]            # CSI ... final byte
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)? # OSC ... BEL or ST
    | \x1b[PX^_][^\x1b]*(?:\x1b\\)?      # DCS, SOS, PM, APC ... ST
    | \x1b[@-Z\\-_]                      # other two-byte escapes
    | \x9b[0-?]*[ -/]*[@-~]              # 8-bit CSI
    """,
    re.VERBOSE,
)
# C0 controls except tab and newline, DEL, C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidi overrides/isolates and zero-width characters that can hide text.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# Special tokens of the chat templates alsate's models use, and the generic
# ``<|...|>`` shape most modern templates share.
_SPECIAL_TOKENS = re.compile(
    r"""
    <\|[^<>|\s]{1,48}\|>                       # <|im_start|> <|eot_id|> <|endoftext|> ...
    | </?s>                                    # llama-2 / mistral BOS/EOS
    | \[/?INST\] | <<\s*/?\s*SYS\s*>>           # llama-2 instruction markers
    | <(?:start|end)_of_turn> | </?(?:bos|eos|pad|unk)>   # gemma and friends
    """,
    re.VERBOSE | re.IGNORECASE,
)
#: Marker words of the data boundary; a log line may not contain them.
BOUNDARY_WORD = "ALSATE-LOG-DATA"
_BOUNDARY_LIKE = re.compile(re.escape(BOUNDARY_WORD), re.IGNORECASE)


def sanitize(text: str, *, max_chars: int | None = None, keep_newlines: bool = False) -> str:
    """Return ``text`` safe to place inside a prompt's data block.

    Escape sequences and control characters are dropped, chat-template special
    tokens and boundary look-alikes are replaced by ``[removed]``, newlines
    become `` ⏎ `` unless ``keep_newlines``. ``max_chars`` cuts long text and
    says so.
    """
    text = _ANSI.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not keep_newlines:
        text = text.replace("\n", " \u23ce ")
    text = _CONTROL.sub("", text)
    text = _INVISIBLE.sub("", text)
    # Repeat: removing one token can join the halves of another ("<|im_<|x|>start|>").
    for _ in range(4):
        cleaned = _SPECIAL_TOKENS.sub("[removed]", text)
        cleaned = _BOUNDARY_LIKE.sub("[removed]", cleaned)
        if cleaned == text:
            break
        text = cleaned
    if max_chars is not None and len(text) > max_chars:
        text = text[:max_chars] + f" ...[cut {len(text) - max_chars} chars]"
    return text


def new_boundary() -> str:
    """A fresh random boundary token (96 bits), never guessable from a log."""
    return secrets.token_hex(12)


def wrap_data(body: str, boundary: str) -> str:
    """Put already-sanitised ``body`` between the begin/end markers of ``boundary``."""
    return f"<<<{BOUNDARY_WORD} {boundary} BEGIN>>>\n{body}\n<<<{BOUNDARY_WORD} {boundary} END>>>"


# --- checking model output -----------------------------------------------------


@dataclass(frozen=True)
class GuardFlag:
    """One reason an answer must not be followed blindly."""

    kind: str  # "dangerous-command" or "copied-from-log"
    rule: str  # short rule name, e.g. "pipe-to-shell"
    excerpt: str  # the offending text, as it appears in the answer

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "rule": self.rule, "excerpt": self.excerpt}


@dataclass(frozen=True)
class GuardReport:
    flags: tuple[GuardFlag, ...] = ()

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    def to_json(self) -> dict[str, object]:
        return {"flagged": self.flagged, "flags": [f.to_json() for f in self.flags]}


_SHELLS = r"(?:ba|da|z|k|c|tc|fi)?sh|python[0-9.]*|perl|ruby|php|node"
_DANGEROUS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("pipe-to-shell", re.compile(
        rf"\b(?:curl|wget|fetch|base64\s+(?:-d|--decode))\b[^\n|;]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:{_SHELLS})\b")),
    ("shell-from-download", re.compile(
        rf"\b(?:{_SHELLS})\s+(?:-c\s+)?[\"']?(?:<\(|\$\()\s*(?:curl|wget)\b")),
    ("rm-rf-root", re.compile(
        r"\brm\s+(?:-{1,2}[\w-]+\s+)*-(?:[a-zA-Z]*r[a-zA-Z]*f|[a-zA-Z]*f[a-zA-Z]*r)[a-zA-Z]*\s+"
        r"(?:-{1,2}[\w-]+\s+)*(?:/|/\*|~/?|\$HOME/?|/(?:etc|usr|var|boot|bin|lib|home|root)/?)(?=[\s;|&'\"`]|$)"
        r"|\brm\s+[^\n]*--no-preserve-root")),
    ("world-writable", re.compile(r"\bchmod\s+(?:-\S+\s+)*(?:0?777|a\+rwx|o\+w|ugo\+rwx)\b")),
    ("new-user", re.compile(
        r"\b(?:useradd|adduser|newusers)\b|\busermod\s+[^\n]*-a?G\s*\S*\b(?:sudo|wheel|root|admin)\b"
        r"|\bpasswd\s+-d\b|/etc/sudoers\b[^\n]*(?:>>|tee)|NOPASSWD")),
    ("ssh-key", re.compile(
        r"(?:>>?|\btee\b[^\n]*)\s*\S*authorized_keys|\bssh-copy-id\b|authorized_keys[^\n]*(?:>>|\btee\b)")),
    ("firewall-off", re.compile(
        r"\bufw\s+disable\b|\b(?:systemctl|service)\s+(?:stop|disable|mask)\s+(?:firewalld|ufw|nftables|iptables)\b"
        r"|\b(?:firewalld|ufw|nftables|iptables)\s+stop\b"
        r"|\biptables\s+(?:-t\s+\S+\s+)?(?:-F|--flush)\b|\biptables\s+-P\s+(?:INPUT|FORWARD)\s+ACCEPT\b"
        r"|\bnft\s+flush\s+ruleset\b|\bsetenforce\s+0\b|SELINUX\s*=\s*disabled", re.IGNORECASE)),
    ("disk-wipe", re.compile(r"\bmkfs(?:\.\w+)?\s+/dev/|\bdd\s+[^\n]*of=/dev/(?:sd|nvme|vd|xvd|hd)")),
    ("fork-bomb", re.compile(r":\(\)\s*\{\s*:\|:&\s*\};:")),
)

_URL = re.compile(r"\b(?:https?|ftp|tftp)://[^\s\"'<>`|;)]+", re.IGNORECASE)
_COMMAND_WORDS = (
    "curl", "wget", "bash", "sh", "zsh", "nc", "ncat", "netcat", "python", "python3", "perl", "php",
    "ruby", "chmod", "chown", "rm", "echo", "base64", "powershell", "cmd", "tftp", "busybox",
    "useradd", "crontab", "systemctl", "iptables", "sudo", "eval", "exec", "cat", "id", "uname",
)
_COMMAND = re.compile(
    r"(?<![\w./-])(?:" + "|".join(re.escape(w) for w in _COMMAND_WORDS) + r")(?:\s+[^\s;|&`\"'()<>]+){1,12}"
)
_MIN_COPIED = 10  # shorter fragments ("id -u") are too common to mean copying


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def log_artifacts(log_texts: Iterable[str]) -> tuple[set[str], set[str]]:
    """URLs and command-like fragments found in the (untrusted) log content."""
    urls: set[str] = set()
    commands: set[str] = set()
    for text in log_texts:
        text = sanitize(text)
        for match in _URL.finditer(text):
            urls.add(match.group(0).rstrip(".,"))
        for match in _COMMAND.finditer(text):
            fragment = _norm(match.group(0))
            # "HTTP/1.1" etc. end a request line, not part of the command
            fragment = re.split(r" http/\d", fragment)[0].strip()
            if len(fragment) >= _MIN_COPIED:
                commands.add(fragment)
    return urls, commands


def check_output(answer: str, log_texts: Iterable[str] = ()) -> GuardReport:
    """Flag dangerous commands in ``answer`` and commands/URLs copied from the logs."""
    flags: list[GuardFlag] = []
    seen: set[tuple[str, str]] = set()

    def add(kind: str, rule: str, excerpt: str) -> None:
        key = (rule, excerpt)
        if key not in seen:
            seen.add(key)
            flags.append(GuardFlag(kind, rule, excerpt[:200]))

    clean = _ANSI.sub("", answer)
    for rule, pattern in _DANGEROUS:
        for match in pattern.finditer(clean):
            add("dangerous-command", rule, match.group(0).strip())
    urls, commands = log_artifacts(log_texts)
    if urls or commands:
        lowered = clean.lower()
        normalized = _norm(clean)
        for url in sorted(urls):
            if url.lower() in lowered:
                add("copied-from-log", "url", url)
        for command in sorted(commands):
            if command in normalized:
                add("copied-from-log", "command", command)
    return GuardReport(tuple(flags))


_TERMINAL_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """Model output made inert for a terminal: no ESC or other control characters, no bidi overrides.

    Works piece by piece (an escape sequence split across tokens loses its ESC
    in whichever piece holds it); keeps newlines and tabs.
    """
    return _INVISIBLE.sub("", _TERMINAL_UNSAFE.sub("", text.replace("\r\n", "\n")))
