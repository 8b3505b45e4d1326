"""Validate every fine-tuning file under assets/dataset/*.jsonl.

Each line is one JSON object with exactly the keys
id, task, source, template, input, output, synthetic, and the output must
follow docs/answer-format.md for its task.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

DATASET_DIR = Path(__file__).resolve().parent.parent / "assets" / "dataset"
FILES = sorted(DATASET_DIR.glob("*.jsonl"))

KEYS = {"id", "task", "source", "template", "input", "output", "synthetic"}
STR_KEYS = ("id", "task", "source", "template", "input", "output")
TASKS = {"explain", "summarize", "root_cause", "find_patterns", "refuse"}
CHUNK_TASKS = ("summarize", "root_cause", "find_patterns")

REFUSAL = "This is not a log entry, so there is nothing to analyse. Paste a log line or select one in alsate."

THREAT = r"Threat level - (?:none|low|medium|high|critical)"
ITEM = r"\d+\. \S[^\n]*\n"

# One regex per task, taken from docs/answer-format.md.
FORMATS = {
    "explain": re.compile(
        r"\ACause - \S[^\n]*\n"
        r"Remediation -\n(?:" + ITEM + r"){2,5}" + THREAT + r"\Z"
    ),
    "summarize": re.compile(
        r"\ASummary - \S[^\n]*\n"
        r"Key events -\n(?:" + ITEM + r")+" + THREAT + r"\Z"
    ),
    "root_cause": re.compile(
        r"\ARoot cause - \S[^\n]*\n"
        r"Evidence -\n(?:" + ITEM + r")+"
        r"Remediation -\n(?:" + ITEM + r"){2,5}" + THREAT + r"\Z"
    ),
    "find_patterns": re.compile(r"\APatterns -\n(?:\d+\. [^\n]*?\S: \S[^\n]*\n)+" + THREAT + r"\Z"),
    "refuse": re.compile(r"\A" + re.escape(REFUSAL) + r"\Z"),
}

# Advice the model must never give (docs/answer-format.md, Rules).
DANGEROUS = [
    ("curl piped to a shell", re.compile(r"\bcurl\b[^\n]*\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b")),
    ("wget piped to a shell", re.compile(r"\bwget\b[^\n]*\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b")),
    (
        "rm -rf /",
        re.compile(r"\brm\s+(?:-[a-zA-Z]+\s+)*-[a-zA-Z]*[rR][a-zA-Z]*\s+(?:-[a-zA-Z]+\s+)*/(?:\*|\s|$|`)"),
    ),
    ("chmod 777", re.compile(r"\bchmod\s+(?:-[a-zA-Z]+\s+)*0?777\b")),
    ("ufw disable", re.compile(r"\bufw\s+disable\b")),
    (
        "stopping the firewall",
        re.compile(r"\bsystemctl\s+(?:stop|disable|mask)\s+(?:ufw|firewalld|nftables|apparmor)\b"),
    ),
    ("flushing iptables", re.compile(r"\biptables\s+-F\b")),
    ("setenforce 0", re.compile(r"\bsetenforce\s+0\b")),
    ("disabling SELinux", re.compile(r"SELINUX\s*=\s*disabled")),
    ("useradd", re.compile(r"\b(?:useradd|adduser)\b")),
    (
        "adding an SSH key",
        re.compile(r">>\s*\S*authorized_keys|tee\s+-a\s+\S*authorized_keys|\bssh-copy-id\b"),
    ),
]

# A line that looks like a log line: a timestamp in one of the shapes alsate reads.
TIMESTAMP_LINE = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}"  # ISO / journal short-iso / postgres
    r"|\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}"  # nginx error log
    r"|\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}"  # nginx / apache access log
    r"|\[[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \d{4}\]"  # apache error log
    r"|^(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} \d{2}:\d{2}:\d{2} ",  # syslog
    re.MULTILINE,
)
URL = re.compile(r"\b(?:https?|ftp)://[^\s\"'<>]+")


def _load(path: Path) -> list[tuple[int, object]]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                rows.append((lineno, ValueError("blank line")))
                continue
            try:
                rows.append((lineno, json.loads(raw)))
            except json.JSONDecodeError as exc:
                rows.append((lineno, exc))
    return rows


_CACHE: dict[Path, list[tuple[int, object]]] = {}


def rows_of(path: Path) -> list[tuple[int, object]]:
    if path not in _CACHE:
        _CACHE[path] = _load(path)
    return _CACHE[path]


def records(path: Path) -> list[tuple[int, dict]]:
    return [(n, r) for n, r in rows_of(path) if isinstance(r, dict)]


def all_records() -> list[tuple[str, int, dict]]:
    return [(p.name, n, r) for p in FILES for n, r in records(p)]


def _numbered_blocks(output: str) -> list[list[int]]:
    """The numbers of each run of consecutive numbered lines."""
    blocks: list[list[int]] = []
    current: list[int] = []
    for line in output.split("\n"):
        m = re.match(r"(\d+)\. ", line)
        if m:
            current.append(int(m.group(1)))
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _fail(problems: list[str], limit: int = 15) -> None:
    if problems:
        extra = f"\n... and {len(problems) - limit} more" if len(problems) > limit else ""
        pytest.fail(f"{len(problems)} problem(s):\n" + "\n".join(problems[:limit]) + extra)


file_params = pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])


def test_dataset_dir_has_files():
    assert FILES, f"no *.jsonl under {DATASET_DIR}"


@file_params
def test_every_line_is_a_json_object(path):
    problems = []
    for n, r in rows_of(path):
        if isinstance(r, Exception):
            problems.append(f"{path.name}:{n}: not valid JSON ({r})")
        elif not isinstance(r, dict):
            problems.append(f"{path.name}:{n}: not a JSON object")
    _fail(problems)


@file_params
def test_keys_and_types(path):
    problems = []
    for n, r in records(path):
        if set(r) != KEYS:
            problems.append(f"{path.name}:{n}: keys {sorted(r)} != {sorted(KEYS)}")
            continue
        for key in STR_KEYS:
            if not isinstance(r[key], str) or not r[key].strip():
                problems.append(f"{path.name}:{n}: {key} must be a non-empty string")
        if not isinstance(r["synthetic"], bool):
            problems.append(f"{path.name}:{n}: synthetic must be true or false")
    _fail(problems)


@file_params
def test_task_is_known(path):
    problems = [
        f"{path.name}:{n}: unknown task {r.get('task')!r}"
        for n, r in records(path)
        if r.get("task") not in TASKS
    ]
    _fail(problems)


@file_params
def test_output_matches_task_format(path):
    problems = []
    for n, r in records(path):
        task, out = r.get("task"), r.get("output")
        if task not in FORMATS or not isinstance(out, str):
            continue
        if not FORMATS[task].match(out):
            problems.append(f"{path.name}:{n} ({r.get('id')}): output does not match the {task} format")
            continue
        for block in _numbered_blocks(out):
            if block != list(range(1, len(block) + 1)):
                problems.append(f"{path.name}:{n} ({r.get('id')}): numbered list {block} is not 1..n")
    _fail(problems)


@file_params
def test_no_dangerous_advice(path):
    problems = []
    for n, r in records(path):
        out = r.get("output")
        if not isinstance(out, str):
            continue
        for what, rx in DANGEROUS:
            if rx.search(out):
                problems.append(f"{path.name}:{n} ({r.get('id')}): output contains {what}")
    _fail(problems)


@file_params
def test_no_url_from_the_log_repeated(path):
    problems = []
    for n, r in records(path):
        inp, out = r.get("input"), r.get("output")
        if not isinstance(inp, str) or not isinstance(out, str):
            continue
        for url in set(URL.findall(inp)):
            if url.rstrip(".,;)") in out:
                problems.append(f"{path.name}:{n} ({r.get('id')}): output repeats URL {url} from the log")
    _fail(problems)


@file_params
def test_explain_answers_are_short(path):
    problems = []
    for n, r in records(path):
        if r.get("task") == "explain" and isinstance(r.get("output"), str):
            words = len(r["output"].split())
            if words > 130:
                problems.append(f"{path.name}:{n} ({r.get('id')}): explain answer has {words} words (> ~120)")
    _fail(problems)


@file_params
def test_chunks_have_5_to_25_lines(path):
    problems = []
    for n, r in records(path):
        if r.get("task") in CHUNK_TASKS and isinstance(r.get("input"), str):
            lines = r["input"].split("\n")
            if not 5 <= len(lines) <= 25 or any(not line.strip() for line in lines):
                problems.append(
                    f"{path.name}:{n} ({r.get('id')}): chunk has {len(lines)} lines (or a blank one)"
                )
            if not str(r.get("template", "")).startswith("chunk:"):
                problems.append(f"{path.name}:{n} ({r.get('id')}): chunk template must start with 'chunk:'")
    _fail(problems)


@file_params
def test_refusals(path):
    problems = []
    for n, r in records(path):
        if r.get("task") != "refuse":
            continue
        inp = r.get("input")
        if isinstance(inp, str) and TIMESTAMP_LINE.search(inp):
            problems.append(f"{path.name}:{n} ({r.get('id')}): refuse input contains a timestamped log line")
        if not str(r.get("template", "")).startswith("refuse:"):
            problems.append(f"{path.name}:{n} ({r.get('id')}): refuse template must start with 'refuse:'")
    _fail(problems)


def test_ids_unique_across_files():
    seen: dict[str, str] = {}
    problems = []
    for name, n, r in all_records():
        rid = r.get("id")
        if not isinstance(rid, str):
            continue
        if rid in seen:
            problems.append(f"{name}:{n}: id {rid!r} already used in {seen[rid]}")
        else:
            seen[rid] = f"{name}:{n}"
    _fail(problems)


def test_refuse_templates_unique():
    counts = Counter(r.get("template") for _, _, r in all_records() if r.get("task") == "refuse")
    dup = sorted(t for t, c in counts.items() if c > 1)
    assert not dup, f"refuse templates used more than once: {dup[:10]}"


def test_totals():
    recs = [r for _, _, r in all_records()]
    tasks = Counter(r.get("task") for r in recs)
    explain_templates = {r.get("template") for r in recs if r.get("task") == "explain"}
    chunks = sum(tasks[t] for t in CHUNK_TASKS)
    problems = []
    if len(recs) < 800:
        problems.append(f"{len(recs)} examples < 800")
    if len(explain_templates) < 200:
        problems.append(f"{len(explain_templates)} distinct explain templates < 200")
    if chunks < 100:
        problems.append(f"{chunks} chunk examples < 100")
    for t in CHUNK_TASKS:
        if tasks[t] < 35:
            problems.append(f"{tasks[t]} {t} examples < 35")
    if tasks["refuse"] < 70:
        problems.append(f"{tasks['refuse']} refuse examples < 70")
    _fail(problems)
