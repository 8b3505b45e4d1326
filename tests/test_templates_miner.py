"""Drain3 template mining: grouping accuracy on the Loghub samples, persistence per host."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest
from alsate.engine.templates.miner import MinerConfig, TemplateMiner, state_path

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    spec = importlib.util.spec_from_file_location("template_accuracy", ROOT / "bench" / "template_accuracy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["template_accuracy"] = module
    spec.loader.exec_module(module)
    return module


def test_grouping_accuracy_metric() -> None:
    ga = _bench().grouping_accuracy
    assert ga(["a", "a", "b"], [1, 1, 2]) == 1.0
    # b's line is grouped with a's: only nothing is right
    assert ga(["a", "a", "b"], [1, 1, 1]) == 0.0
    # a is split in two: only b's line is right
    assert ga(["a", "a", "b"], [1, 3, 2]) == pytest.approx(1 / 3)


@pytest.mark.parametrize(("dataset", "target"), [("Linux", 0.90), ("OpenSSH", 0.95), ("Apache", 0.95)])
def test_grouping_accuracy_on_loghub(loghub: Path, dataset: str, target: float) -> None:
    bench = _bench()
    contents, truth = bench.load(loghub, dataset)
    ga, templates = bench.ga_for(contents, truth, MinerConfig())
    assert ga >= target, f"{dataset}: GA {ga:.4f} below {target}"
    assert templates <= len(set(truth)) + 5


def test_same_message_shape_same_cluster(tmp_path: Path) -> None:
    miner = TemplateMiner("h", persist=False)
    a = miner.add("Failed password for root from 203.0.113.9 port 52144 ssh2")
    b = miner.add("Failed password for admin from 198.51.100.7 port 40022 ssh2")
    c = miner.add("Accepted publickey for deploy from 192.0.2.10 port 50000 ssh2")
    assert a.cluster_id == b.cluster_id != c.cluster_id
    assert miner.template(a.cluster_id) == "Failed password for <*> from <IP> port <NUM> ssh2"
    sizes = {cid: size for cid, size, _ in miner.clusters()}
    assert sizes[a.cluster_id] == 2 and sizes[c.cluster_id] == 1


def test_state_survives_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loghub: Path) -> None:
    monkeypatch.setenv("ALSATE_CACHE_DIR", str(tmp_path))
    with open(loghub / "OpenSSH_2k.log_structured.csv", newline="", encoding="utf-8") as fh:
        contents = [row["Content"] for row in csv.DictReader(fh)][:500]
    first = TemplateMiner("LabSZ")
    ids = [first.add(c).cluster_id for c in contents]
    first.close()
    path = tmp_path / "templates" / "LabSZ.bin"
    assert path.exists() and path.stat().st_size > 0
    assert state_path("LabSZ") == path

    second = TemplateMiner("LabSZ")
    assert {t for _, _, t in second.clusters()} == {t for _, _, t in first.clusters()}
    # the same messages land in the same clusters, with no new cluster created
    before = len(second.clusters())
    assert [second.add(c).cluster_id for c in contents] == ids
    assert len(second.clusters()) == before
    # another host has its own state
    assert TemplateMiner("other-host").clusters() == []


def test_state_path_is_file_safe(tmp_path: Path) -> None:
    assert state_path("../../etc/passwd", tmp_path).parent == tmp_path / "templates"
    assert state_path("", tmp_path).name == "localhost.bin"
    assert state_path("web-1.example.com", tmp_path).name == "web-1.example.com.bin"


def test_no_persistence_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALSATE_CACHE_DIR", str(tmp_path))
    miner = TemplateMiner("x", persist=False)
    miner.add("hello 1")
    assert miner.save() is None
    assert not (tmp_path / "templates").exists()


def test_state_with_jsonpickle_tags_in_log_words_survives_a_restart(tmp_path: Path) -> None:
    """Log words are keys of drain3's prefix tree, which is saved with jsonpickle: a word such as
    ``py/object`` or ``py/ref`` in an attacker's line must not change the tree read back."""
    from jsonpickle import tags

    words = sorted(tags.RESERVED) + ["py/b64", "py/mod", "py/future-tag", "\ue000py/x", "\ue000"]
    messages = []
    for word in words:
        messages += [f"{word} login failed for user {word}", f"{word} {word} {word}", f"session {word} opened",
                     word, f"GET /{word} HTTP/1.1 from {word}"]
    path = tmp_path / "state.bin"
    miner = TemplateMiner("web1", path=path)
    ids = [miner.add_id(m) for m in messages]
    before = sorted(miner.clusters())
    miner.close()
    again = TemplateMiner("web1", path=path)
    assert not path.with_name(path.name + ".corrupt").exists()
    assert sorted(again.clusters()) == before
    # The restored tree sends every message to the cluster it had (a broken tree made new ones).
    assert [again.add_id(m) for m in messages] == ids
    assert len(again.clusters()) == len(before)
    # Templates show the words as written.
    assert again.template(ids[0]) == f"{words[0]} login failed for user {words[0]}"
    assert any(t == "\ue000py/x \ue000py/x \ue000py/x" for _, _, t in again.clusters())
