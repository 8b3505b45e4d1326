"""Masking of variable tokens, on real message shapes."""

from __future__ import annotations

import pytest
from alsate.engine.templates.masking import DEFAULT_MASKS, is_placeholder, mask
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize(("message", "masked"), [
    ("Failed password for root from 203.0.113.9 port 52144 ssh2",
     "Failed password for root from <IP> port <NUM> ssh2"),
    ("authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root",
     "authentication failure; logname= uid=<NUM> euid=<NUM> tty=NODEVssh ruser= rhost=<HOST> user=root"),
    ("connection from 24.54.76.216 (24-54-76-216.bflony.adelphia.net) at Fri Jun 17 07:07:00 2005",
     "connection from <IP> (<HOST>) at <DATE>"),
    ("reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
     "reverse mapping checking getaddrinfo for <HOST> [<IP>] failed - POSSIBLE BREAK-IN ATTEMPT!"),
    ("workerEnv.init() ok /etc/httpd/conf/workers2.properties", "workerEnv.init() ok <PATH>"),
    ("Process 3141 (myapp) of user 1000 dumped core.", "Process <NUM> (myapp) of user <NUM> dumped core."),
    ("request 6f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0 took 12.5ms, wrote 3.2MB",
     "request <UUID> took <DUR>, wrote <SIZE>"),
    ("segfault at 8 ip 00007f3a2b4c5d6e sp 00007ffc1a2b3c40 error 4",
     "segfault at <NUM> ip <HEX> sp <HEX> error <NUM>"),
    ("gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE), order=0", "gfp_mask=<HEX>(GFP_HIGHUSER_MOVABLE), order=<NUM>"),
    ("listening on [fe80::1ff:fe23:4567:890a]:8080 and 2001:db8::8a2e:370:7334",
     "listening on [<IP>]:<NUM> and <IP>"),
    ("at 2024-05-01T10:00:01.123Z backup of https://example.com/x?y=1 done",
     "at <DATE> backup of <URL> done"),
    ("started 2024-05-01 10:00:01 ok, next Jun 5 04:00:00 (in 3h)", "started <DATE> ok, next <DATE> (in <DUR>)"),
    ("User unknown timed out after 900 seconds at Sat Jun 18 02:08:10 2005",
     "User unknown timed out after <NUM> seconds at <DATE>"),
])
def test_masks_real_tokens(message: str, masked: str) -> None:
    assert mask(message) == masked


def test_times_are_not_ipv6_and_words_with_digits_stay() -> None:
    # 12:34:56 is a time, not an IPv6 address; ssh2/tty2/ext4 are words, not numbers
    assert mask("ROOT LOGIN ON tty2 at 12:34:56 via ssh2 on ext4") == "ROOT LOGIN ON tty2 at <TIME> via ssh2 on ext4"


def test_ip_prefix_of_a_hostname_is_not_an_ip() -> None:
    assert mask("from 212.112.12.122.sh.interxion.inode.at") == "from <HOST>"


def test_custom_rules_use_the_same_placeholders() -> None:
    only_ip = tuple(m for m in DEFAULT_MASKS if m.name == "IP")
    assert mask("from 10.1.2.3 port 22", only_ip) == "from <IP> port 22"


TRICKY = st.text(alphabet="0123456789abcdefxABCDEF.:/-=<>@ []()_~,'\"#", max_size=40)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.text(max_size=120), TRICKY))
def test_masking_is_idempotent_and_total(text: str) -> None:
    once = mask(text)
    assert mask(once) == once
    assert "\n" not in once


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=255), min_size=4, max_size=4), st.integers(1, 65535))
def test_any_ipv4_with_port_is_masked(octets: list[int], port: int) -> None:
    ip = ".".join(map(str, octets))
    assert mask(f"connect to {ip}:{port} failed") == "connect to <IP> failed"
    assert mask(f"from {ip} port {port}") == "from <IP> port <NUM>"


def test_is_placeholder() -> None:
    assert is_placeholder("<IP>") and is_placeholder("<*>") and is_placeholder("[<IP>]:<NUM>")
    assert not is_placeholder("root")


HOSTILE = ["/" + "a" * 5000 + "!", "a." * 3000 + "!", "1." * 3000 + "x", ":".join(["ab"] * 2000) + "z",
           "0x" + "f" * 5000 + "g", "Jan 1 " * 1000, "/a" * 3000 + "!", "[" + "1.2.3.4:" * 1000, "x=/" * 2000 + "!"]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: t[:12])
def test_hostile_tokens_cost_linear_time(text: str) -> None:
    import time

    start = time.perf_counter()
    mask(text)
    mask(text + " tail")
    assert time.perf_counter() - start < 0.5  # a backtracking pattern takes seconds to hours here
