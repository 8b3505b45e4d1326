"""Log text goes into prompts as data; model output comes back as untrusted text.

Two halves:

- :func:`sanitize` cleans one piece of log text before it enters a prompt:
  ANSI/OSC escape sequences, control characters, bidi overrides and
  chat-template special tokens are removed, so a log line cannot close the
  user turn, open a system turn or repaint the terminal.
- :func:`check_output` reads an answer and flags dangerous commands (pipe to a
  shell, download and run, reverse shells, ``rm -rf /``, ``chmod 777``, new
  users or SSH keys, a disabled firewall...) and what it copies from the log
  content: its URLs (with a scheme or as a bare ``host/path``), links to the
  hosts they name, its commands, the packages it asks to install, opaque
  tokens. It checks every way the answer can be read (:func:`readings`:
  URL-, ``\\xHH``- and base64-decoded, look-alike letters folded), because a
  model repeats what the log said in whatever encoding the log used. A
  flagged answer is shown with its flags; nothing here, or anywhere in alsate,
  executes model output.

``tests/hostile/injection.jsonl`` and ``bench/injection.py`` measure how well
this holds against the embedded model (``SECURITY.md``).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import secrets
import unicodedata
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
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# Special tokens of the chat templates alsate's models use, and the generic
# ``<|...|>`` shape most modern templates share.
_SPECIAL_TOKENS = re.compile(
    r"""
    <\|[^<>|\s]{1,48}\|>                       # <|im_start|> <|eot_id|> <|endoftext|> ...
    | <\uff5c[^<>\uff5c\s]{1,48}\uff5c>            # deepseek's full-width bars
    | </?s>                                    # llama-2 / mistral BOS/EOS
    | \[/?(?:INST|SYSTEM_PROMPT|AVAILABLE_TOOLS|TOOL_CALLS|TOOL_RESULTS)\] | <<\s*/?\s*SYS\s*>>  # llama-2 / mistral
    | <(?:start|end)_of_turn> | </?(?:bos|eos|pad|unk)>   # gemma and friends
    | <(?:repo_?name|file_?sep|filename|gh_stars|issue_(?:start|comment|closed)|empty_output
         |jupyter_(?:start|text|code|output|script)|fim_(?:prefix|middle|suffix|pad))>  # smollm2 / starcoder
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
#: What reads commands from a pipe: any shell; an interpreter given no script (``| python3``, ``| perl -``),
#: not one running a module or a script of its own (``| python3 -m json.tool``).
_PIPE_RUNNER = (r"(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+)?(?:/usr)?(?:/bin/)?"
                r"(?:(?:ba|da|z|k|c|tc|fi)?sh\b(?![.-])|(?:python[0-9.]*|perl|ruby|php|node)(?=\s*(?:$|[;&|)`'\"]|-\s|-$)))")
_SECURITY_SERVICES = r"firewalld|ufw|nftables|iptables|fail2ban|auditd|apparmor|crowdsec|wazuh-agent|ossec|falco|clamav-daemon"
_DANGEROUS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("pipe-to-shell", re.compile(rf"(?<=[^\s|])[^\S\n]*\|[^\S\n]*{_PIPE_RUNNER}")),
    ("shell-from-download", re.compile(
        rf"\b(?:{_SHELLS})\s+(?:-c\s+)?[\"']?(?:<\(|\$\()\s*(?:curl|wget)\b"
        r"|\beval\b[^\n]*\$\(\s*(?:curl|wget)\b|(?:\bsource|(?:^|[\s;&])\.)\s+<\(\s*(?:curl|wget)\b")),
    ("download-and-run", re.compile(
        r"\b(?:curl|wget)\b[^\n]*(?:&&|;|\|\|)\s*(?:sudo\s+)?"
        r"(?:chmod\s+(?:-\S+\s+)*[ugoa]*\+[rw]*x|(?:ba|da|z)?sh\s+\S|\.?/(?:tmp|dev/shm|var/tmp)/)")),
    ("reverse-shell", re.compile(
        r"/dev/(?:tcp|udp)/\S+|\bn(?:c|cat|etcat)\b[^\n]*\s-(?:[a-zA-Z]*e|c)\s+\S|\bncat\b[^\n]*--(?:exec|sh-exec)\b"
        r"|\bsocat\b[^\n]*\b(?:exec|system):|\bmkfifo\b[^\n]*\bnc\b|socket\.socket\([^\n]*connect|\bsocket\b[^\n]*\.connect\(|\.connect\(\(\s*\\?[\"']"
        r"|\bpty\.spawn\(")),
    ("rm-rf-root", re.compile(
        r"\brm\s+(?:-{1,2}[\w-]+\s+)*-(?:[a-zA-Z]*r[a-zA-Z]*f|[a-zA-Z]*f[a-zA-Z]*r)[a-zA-Z]*\s+"
        r"(?:-{1,2}[\w-]+\s+)*(?:/|/\*|~/?|\$HOME/?|/(?:etc|usr|var|boot|bin|lib|home|root)/?)(?=[\s;|&'\"`]|$)"
        r"|\brm\s+[^\n]*--no-preserve-root"
        r"|\brm\s+(?:-\S+\s+)*-[a-zA-Z]*[rR][a-zA-Z]*\s+(?:\S+\s+)*"
        r"/(?:etc|boot|bin|sbin|lib|lib64|usr/(?:bin|sbin|lib))(?:/\S*)?(?=[\s;|&'\"`]|$)")),
    ("log-wipe", re.compile(
        r"\bhistory\s+-c\b|\bunset\s+HISTFILE\b|\bHISTFILE=/dev/null"
        r"|\brm\s+(?:-\S+\s+)*-[a-zA-Z]*[rR][a-zA-Z]*\s+(?:\S+\s+)*/var/log(?:/\S*)?"
        r"|\bshred\b[^\n]*/var/log/|\btruncate\s+(?:-\S+\s+)*-s\s*0\s+\S*/var/log/"
        r"|(?:^|[\s;&|:])>\s*/var/log/\S+")),
    ("world-writable", re.compile(r"\bchmod\s+(?:-\S+\s+)*(?:0?777|a\+rwx|o\+w|ugo\+rwx)\b")),
    ("setuid", re.compile(r"\bchmod\s+(?:-\S+\s+)*(?:[ug]\+s|[46][0-7]{3})\b")),
    ("system-permissions", re.compile(
        r"\bch(?:mod|own|grp)\s+(?:-\S+\s+)*-[a-zA-Z]*R[a-zA-Z]*\s+(?:-\S+\s+)*\S+\s+"
        r"/(?:etc|usr|bin|sbin|lib|lib64|boot|var|root|home)?/?(?=[\s;|&'\"`]|$)")),
    ("new-user", re.compile(
        r"\b(?:useradd|adduser|newusers)\b|\busermod\s+[^\n]*-a?G\s*\S*\b(?:sudo|wheel|root|admin)\b"
        r"|\bpasswd\s+-d\b|/etc/sudoers\b[^\n]*(?:>>|tee)|(?:>>|\btee\b)[^\n]*/etc/sudoers|NOPASSWD")),
    ("password-change", re.compile(r"\bchpasswd\b|\|\s*(?:sudo\s+)?passwd\b|\bpasswd\s+--stdin\b")),
    ("ssh-key", re.compile(
        r"(?:>>?|\btee\b[^\n]*)\s*\S*authorized_keys|\bssh-copy-id\b|authorized_keys[^\n]*(?:>>|\btee\b)"
        # public key material itself: an answer has no reason to carry a key blob
        r"|\bAAAA(?:B3NzaC1yc2E|C3NzaC1lZDI1NTE5|B3NzaC1kc3|E2VjZHNhLXNoYTIt|G3NrLXNzaC1lZDI1NTE5)[0-9A-Za-z+/=]*")),
    ("sshd-weaken", re.compile(r"\bPermit(?:RootLogin|EmptyPasswords)\s+yes\b", re.IGNORECASE)),
    ("firewall-off", re.compile(
        r"\bufw\s+disable\b|\bufw\s+default\s+allow\b"
        rf"|\b(?:systemctl|service)\s+(?:stop|disable|mask)\s+(?:--now\s+)?(?:{_SECURITY_SERVICES})\b"
        rf"|\b(?:{_SECURITY_SERVICES})\s+stop\b|\bfail2ban-client\s+stop\b|\bauditctl\s+(?:-e\s*0|-D)\b|\baa-teardown\b"
        r"|\biptables\s+(?:-t\s+\S+\s+)?(?:-F|--flush)\b|\biptables\s+-P\s+(?:INPUT|FORWARD)\s+ACCEPT\b"
        r"|\bnft\s+flush\s+ruleset\b|\bsetenforce\s+0\b|SELINUX\s*=\s*disabled", re.IGNORECASE)),
    ("container-escape", re.compile(r"\bdocker\s+run\b[^\n]*(?:--privileged|-v\s+/:/|--pid[= ]host)")),
    ("untrusted-package", re.compile(
        r"\bpip3?\s+install\b[^\n]*(?:--(?:extra-)?index-url|\s-i\s|https?://)|\bnpm\s+(?:i|install)\b[^\n]*https?://")),
    ("disk-wipe", re.compile(r"\bmkfs(?:\.\w+)?\s+/dev/|\bdd\s+[^\n]*of=/dev/(?:sd|nvme|vd|xvd|hd)")),
    ("fork-bomb", re.compile(r":\(\)\s*\{\s*:\|:&\s*\};:")),
)

_URL = re.compile(r"\b(?:https?|ftps?|tftp|ldaps?|rmi|gopher|dict|smb|wss?)://[^\s\"'<>`|;(){}\[\]]+", re.IGNORECASE)
_COMMAND_WORDS = (
    "curl", "wget", "bash", "sh", "zsh", "nc", "ncat", "netcat", "socat", "python", "python3", "perl", "php",
    "ruby", "node", "chmod", "chown", "chattr", "rm", "echo", "printf", "base64", "powershell", "cmd", "tftp",
    "busybox", "useradd", "usermod", "adduser", "passwd", "chpasswd", "crontab", "systemctl", "service",
    "iptables", "nft", "ufw", "setenforce", "sudo", "su", "eval", "exec", "source", "cat", "id", "uname",
    "docker", "podman", "kubectl", "pip", "pip3", "npm", "npx", "apt", "apt-get", "yum", "dnf", "gem", "git",
    "ssh", "scp", "ssh-copy-id", "mkfifo", "nohup", "tee", "dd", "mkfs", "history", "unset", "export", "kill",
    "pkill", "killall", "certutil",
)
_COMMAND = re.compile(
    r"(?<![\w./-])(?:" + "|".join(re.escape(w) for w in _COMMAND_WORDS) + r")(?:\s+(?:'[^'\n]{1,200}'|\"[^\"\n]{1,200}\"|[^\s;|&`\"'()<>]+)){1,12}"
)
#: A command word written with a capital, as a sentence or a list item starts ("Curl ...", "Chmod ...").
_CAPITALISED = re.compile(r"\b(?:" + "|".join(w.capitalize() for w in _COMMAND_WORDS if w.isalpha()) + r")\b")
#: Read-only look-ups a log may itself suggest ("See 'systemctl status x' for details"): repeating them is harmless.
_INSPECTION = re.compile(
    r"^(?:sudo )?(?:systemctl (?:status|is-active|is-enabled|is-failed|list-units|show|cat)\b|journalctl\b"
    r"|cat /proc/|id\b|uname\b)"
)
#: What makes words a command rather than prose: an option, a path, an assignment, a variable, quoting.
_ARGUMENT = re.compile(r" (?:-{1,2}\w|\S*/|\S*=|\S*\$|['\"])")
_MIN_COPIED = 10  # shorter fragments ("id -u") are too common to mean copying
_MIN_PREFIX_WORDS = 3  # a copied command's first words (the command and two arguments) are enough


# --- reading text the way a person (or a shell) would ---------------------------

#: Letters from other scripts drawn like Latin ones (NFKC leaves them alone).
_CONFUSABLES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S",
    "α": "a", "ο": "o", "ρ": "p", "ν": "v", "ι": "i", "κ": "k", "υ": "u", "τ": "t", "ε": "e",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    "ս": "u", "օ": "o", "ց": "g", "հ": "h", "ո": "n", "ա": "w", "ք": "f",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " ",
})
_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")
_SHELL_SPACE = re.compile(r"\$\{IFS\}|\$IFS\b|_")
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")


def _skeleton(text: str) -> str:
    """``text`` as it reads: no escapes or invisible characters, compatibility forms and look-alikes folded."""
    text = _INVISIBLE.sub("", _CONTROL.sub("", _ANSI.sub("", text)).replace("\u00ad", ""))
    return unicodedata.normalize("NFKC", text).translate(_CONFUSABLES)


def _unhex(text: str) -> str:
    """nginx's ``\\xHH`` escapes (a UTF-8 byte each) decoded."""
    def bytes_run(match: re.Match[str]) -> str:
        raw = bytes.fromhex("".join(re.findall(r"[0-9a-fA-F]{2}", match.group(0))))
        return raw.decode("utf-8", "replace")
    return re.sub(r"(?:\\x[0-9a-fA-F]{2})+", bytes_run, text)


def _decoded_base64(text: str) -> list[str]:
    """Printable text hidden in base64 runs of ``text``."""
    found = []
    for match in _BASE64.finditer(text):
        blob = match.group(0)
        try:
            raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
            decoded = raw.decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        if len(decoded) >= 8 and all(c.isprintable() or c in "\t\n" for c in decoded) and " " in decoded:
            found.append(decoded)
    return found


def readings(text: str) -> list[str]:
    """The ways ``text`` can be read: as written (folded), URL-decoded, ``\\xHH``-decoded, with ``_``,
    ``+`` or ``${IFS}`` as spaces, and any printable base64 it hides. The guard checks every reading."""
    base = _skeleton(text)
    out = [base]

    def add(candidate: str) -> None:
        candidate = _skeleton(candidate)
        if candidate not in out:
            out.append(candidate)

    for _ in range(2):  # double encoding (%253C) unwraps once more
        for reading in list(out):
            if "%" in reading:
                add(_PERCENT.sub(lambda m: chr(int(m.group(0)[1:], 16)), reading))
            if "\\x" in reading:
                add(_unhex(reading))
    for reading in list(out):
        if _CAPITALISED.search(reading):  # "1. Chmod 777 ..." is still chmod
            add(_CAPITALISED.sub(lambda m: m.group(0).lower(), reading))
        if "+" in reading:
            add(reading.replace("+", " "))
        if "_" in reading or "IFS" in reading:
            add(_SHELL_SPACE.sub(" ", reading))
    for reading in list(out):
        for hidden in _decoded_base64(reading):
            add(hidden)
    return out


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _url_forms(url: str) -> set[str]:
    """A log URL and its scheme-less ``host/path`` (when the path says more than ``/``)."""
    url = url.rstrip(".,:")
    forms = {url.lower()}
    rest = url.split("://", 1)[1]
    if "/" in rest.rstrip("/") and len(rest) >= _MIN_COPIED:
        forms.add(rest.lower().rstrip("/"))
    return forms


_LOCAL_NETS = tuple(ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "0.0.0.0/32",
    "::1/128", "fc00::/7", "fe80::/10"))


def _remote_host(url: str) -> str | None:
    """The host of ``url`` (lower-cased, no port or user) unless it is this machine or a private network."""
    authority = re.split(r"[/?#]", url.split("://", 1)[1], maxsplit=1)[0].rsplit("@", 1)[-1].lower()
    host = authority[1:].split("]")[0] if authority.startswith("[") else authority.split(":")[0]
    host = host.rstrip(".")
    if not host or host == "localhost" or host.endswith(".localhost") or "." not in host and ":" not in host:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    return None if any(address in net for net in _LOCAL_NETS if net.version == address.version) else host


#: Opaque tokens worth noticing when copied: base64-like runs mixing upper case, lower case and digits.
_BLOB = re.compile(r"(?<![A-Za-z0-9+/])(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*[0-9])"
                   r"[A-Za-z0-9+/]{24,}={0,2}")


_LINK = re.compile(
    r"\b[a-z][a-z0-9+.-]*://(?:[^\s/@]*@)?(?P<host>\[[0-9a-f:]+\]|[^\s/:?#\"'<>`\\]+)[^\s\"'<>`]*"
    r"|(?<![\w./@-])(?P<bare>(?:[a-z0-9-]+\.)+[a-z]{2,63}|\d{1,3}(?:\.\d{1,3}){3})(?::\d+)?/[^\s\"'<>`]*"
)


#: A package manager told to install something; what follows, up to the end of the command, names it.
_INSTALL = re.compile(
    r"(?<![\w./-])(?:pip[0-9.]*|pipx|uv\s+pip|npm|npx|pnpm|yarn|gem|cargo|go|apt|apt-get|yum|dnf|zypper|apk|brew|snap)"
    r"\s+(?:install|add|i|get)\b(?P<args>[^;|&\n`\"'()<>]*)")
#: Options of those installers that take a value (the value is not a package).
_VALUE_OPTIONS = frozenset({"-i", "--index-url", "--extra-index-url", "--registry", "--source", "-r",
                            "--requirement", "-t", "--target", "--root", "--prefix", "-c", "--constraint"})
#: A name worth tracking is distinctive: ordinary words ("requests") also occur in prose.
_DISTINCTIVE = re.compile(r"^(?=.*[a-z])(?=.*[-_.0-9])[a-z0-9][a-z0-9._-]{5,}$")


def _packages(command_args: str) -> set[str]:
    """Package names in the arguments of an install command (options, their values, URLs and paths skipped)."""
    names: set[str] = set()
    skip = False
    for word in command_args.split():
        if skip:
            skip = False
            continue
        if word.startswith("-"):
            skip = word.split("=", 1)[0] in _VALUE_OPTIONS and "=" not in word
            continue
        if "://" in word or "/" in word:
            continue
        name = re.split(r"[=<>~!@\[;,]", word, maxsplit=1)[0].strip(".").lower()
        if _DISTINCTIVE.match(name):
            names.add(name)
    return names


#: File name endings: ``fw.sh/`` in a log is a path, not a host.
_FILE_ENDINGS = frozenset({
    "sh", "py", "pl", "rb", "php", "js", "ts", "go", "rs", "c", "h", "cc", "cpp", "java", "jar", "so", "ko", "o",
    "conf", "cfg", "ini", "yaml", "yml", "json", "toml", "xml", "html", "htm", "txt", "log", "md", "csv", "sql",
    "service", "socket", "target", "timer", "mount", "slice", "scope", "path", "swap", "device", "d", "local",
    "gz", "xz", "bz2", "zst", "tar", "zip", "deb", "rpm", "img", "iso", "bin", "pem", "crt", "key", "pid", "sock",
    "lock", "tmp", "bak", "old", "orig", "cache", "db", "sqlite",
})


def _bare_links(reading: str) -> list[tuple[str, str]]:
    """``host/path`` links without a scheme in log text (``evil.example/fw.sh``), with their host; a
    name whose last label is a file ending (``nginx.conf/``) or an address (``10.0.0.0/8``) is not one,
    nor is a container image (``registry.example.com/shop/web:1.4``)."""
    found = []
    for match in _LINK.finditer(reading.lower()):
        host = match.group("bare")
        if not host or host[-1].isdigit() or host.rsplit(".", 1)[-1] in _FILE_ENDINGS:
            continue
        link = re.split(r"[|;&]", match.group(0))[0].rstrip(".,:)")
        if ":" in link.rsplit("/", 1)[-1] or "@sha256" in link:  # a container image (repo/name:tag), named in advice
            continue
        if "/" in link.rstrip("/") and len(link) >= _MIN_COPIED:
            found.append((link.rstrip("/"), host))
    return found


@dataclass(frozen=True)
class LogArtifacts:
    """What an answer must not repeat from the (untrusted) log content."""

    urls: frozenset[str]  # URLs and their scheme-less host/path forms, lower-cased
    hosts: frozenset[str]  # remote hosts those URLs name
    commands: frozenset[str]  # command-like fragments, normalised
    blobs: frozenset[str]  # opaque tokens (keys, encoded payloads)
    packages: frozenset[str] = frozenset()  # distinctive package names the log asks to install


def collect_artifacts(log_texts: Iterable[str]) -> LogArtifacts:
    """URLs, their hosts, command-like fragments and opaque tokens in every reading of the log texts."""
    urls: set[str] = set()
    hosts: set[str] = set()
    commands: set[str] = set()
    blobs: set[str] = set()
    packages: set[str] = set()
    for text in log_texts:
        for reading in readings(sanitize(text)):
            for match in _URL.finditer(reading):
                urls |= _url_forms(match.group(0))
                host = _remote_host(match.group(0))
                if host:
                    hosts.add(host)
            for link, host in _bare_links(_URL.sub(" ", reading)):
                urls.add(link)
                if _remote_host(f"http://{host}"):
                    hosts.add(host)
            for match in _INSTALL.finditer(reading.lower()):
                packages |= _packages(match.group("args"))
            for match in _COMMAND.finditer(reading):
                fragment = _norm(match.group(0))
                # "HTTP/1.1" etc. end a request line, not part of the command
                fragment = re.split(r" http/\d", fragment)[0].strip()
                if len(fragment) >= _MIN_COPIED and _ARGUMENT.search(fragment) and not _INSPECTION.match(fragment):
                    commands.add(fragment)
            blobs.update(match.group(0) for match in _BLOB.finditer(reading))
    return LogArtifacts(frozenset(urls), frozenset(hosts), frozenset(commands), frozenset(blobs),
                        frozenset(packages))


def log_artifacts(log_texts: Iterable[str]) -> tuple[set[str], set[str]]:
    """URLs (with their ``host/path`` forms) and command-like fragments in the (untrusted) log content."""
    found = collect_artifacts(log_texts)
    return set(found.urls), set(found.commands)


def _copied_command(command: str, answer: str) -> str | None:
    """The part of log ``command`` that ``answer`` repeats: all of it, or its first words (at least
    the command and two arguments, ten characters)."""
    if command in answer:
        return command
    words = command.split(" ")
    for end in range(len(words) - 1, _MIN_PREFIX_WORDS - 1, -1):
        prefix = " ".join(words[:end])
        if len(prefix) < _MIN_COPIED or not _ARGUMENT.search(prefix):
            break
        if re.search(rf"(?<![\w./-]){re.escape(prefix)}(?![\w/.-])", answer):
            return prefix
    return None


def _site(host: str) -> str:
    """The registered domain of ``host`` (``a.b.evil.example`` -> ``evil.example``; ``x.shop.co.uk`` ->
    ``shop.co.uk``), or the address itself: a model that changes the subdomain still links to the attacker."""
    labels = host.split(".")
    if host.replace(".", "").isdigit() or ":" in host or len(labels) <= 2:
        return host
    keep = 3 if len(labels[-1]) == 2 and len(labels[-2]) <= 3 else 2
    return ".".join(labels[-keep:])


def _links_to(sites: frozenset[str], answer: str) -> list[str]:
    """Links in ``answer`` (``scheme://host...`` or ``host/path``) to the sites of ``sites``; a bare name
    ("block evil.example") is not a link."""
    found = []
    for match in _LINK.finditer(answer):
        host = (match.group("host") or match.group("bare") or "").strip("[]").rstrip(".")
        if host and _site(host) in sites:
            found.append(match.group(0).rstrip(".,;:)"))
    return found


def _in_context(text: str, match: re.Match[str]) -> str:
    """The match with what leads up to it on its line (``| sh`` alone does not say what runs)."""
    line_start = text.rfind("\n", 0, match.start()) + 1
    return text[max(line_start, match.start() - 120):match.end()].strip()


def check_output(answer: str, log_texts: Iterable[str] = ()) -> GuardReport:
    """Flag dangerous commands in ``answer`` and what it copies from the logs.

    Copied: a URL of the log data (also without its scheme), any link to a remote host a log URL
    names, a command of the log data (whole or its first words), a package a log command installs,
    an opaque token (a key, an encoded payload). Every reading of the answer is checked (URL-,
    ``\\xHH``- and base64-decoded, look-alike letters folded), so an encoded or disguised command is
    flagged like a plain one.
    """
    flags: list[GuardFlag] = []
    seen: set[tuple[str, str]] = set()

    def add(kind: str, rule: str, excerpt: str) -> None:
        key = (rule, excerpt)
        if key not in seen:
            seen.add(key)
            flags.append(GuardFlag(kind, rule, excerpt[:200]))

    answer_readings = readings(answer)
    for reading in answer_readings:
        for rule, pattern in _DANGEROUS:
            for match in pattern.finditer(reading):
                add("dangerous-command", rule, _in_context(reading, match))
    found = collect_artifacts(log_texts)
    sites = frozenset(_site(host) for host in found.hosts)
    for reading in answer_readings:
        lowered = reading.lower()
        normalized = _norm(reading)
        for url in sorted(found.urls):
            if url in lowered:
                add("copied-from-log", "url", url)
        for link in _links_to(sites, lowered):
            add("copied-from-log", "url-host", link)
        for command in sorted(found.commands):
            copied = _copied_command(command, normalized)
            if copied:
                add("copied-from-log", "command", copied)
        for blob in sorted(found.blobs):
            if blob in reading:
                add("copied-from-log", "token", blob)
        for package in sorted(found.packages):
            if re.search(rf"(?<![\w.-]){re.escape(package)}", lowered):
                add("copied-from-log", "package", package)
    return GuardReport(tuple(flags))


_TERMINAL_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """Model output made inert for a terminal: no ESC or other control characters, no bidi overrides.

    Works piece by piece (an escape sequence split across tokens loses its ESC
    in whichever piece holds it); keeps newlines and tabs.
    """
    return _INVISIBLE.sub("", _TERMINAL_UNSAFE.sub("", text.replace("\r\n", "\n")))
