"""Kernel detectors: OOM, crashes, I/O and filesystem errors, read-only remounts, MCE, disk full."""

from __future__ import annotations

import json

import pytest
from alsate.engine.findings import FindingsEngine
from alsate.engine.parse import parse_lines


def _kern(messages: list[str], host: str = "web1") -> FindingsEngine:
    lines = [f"2024-05-01T10:00:{i % 60:02d}.000000+00:00 {host} kernel: {m}" for i, m in enumerate(messages)]
    engine = FindingsEngine(persist_templates=False)
    for record in parse_lines("syslog", lines, origin="kern.log"):
        engine.feed(record)
    return engine


def test_oom_kill_sequence_is_one_finding_with_the_whole_story() -> None:
    engine = _kern([
        "[86400.112233] java invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, "
        "oom_score_adj=0",
        "[86400.112301] Mem-Info:",
        "[86400.112450] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,"
        "task_memcg=/system.slice/tomcat.service,task=java,pid=4242,uid=1000",
        "[86400.112461] Out of memory: Killed process 4242 (java) total-vm:8844492kB, anon-rss:7372000kB, "
        "file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:14480kB oom_score_adj:0",
        "[86400.298001] oom_reaper: reaped process 4242 (java), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
    ])
    [f] = engine.findings()
    assert f.id == "kernel.oom:java" and f.severity == 2 and f.category == "resource"
    assert f.evidence == ("kern.log#0", "kern.log#2", "kern.log#3", "kern.log#4")
    assert f.keys["pid"] == ("4242",)


def test_old_style_oom_message() -> None:
    engine = _kern(["Out of memory: Kill process 1234 (mysqld) score 912 or sacrifice child"])
    assert engine.get("kernel.oom:mysqld") is not None


@pytest.mark.parametrize(("message", "fid"), [
    ("php-fpm8.2[23456]: segfault at 8 ip 00007f3a2b4c5d6e sp 00007ffc1a2b3c40 error 4 in "
     "libphp8.2.so[7f3a2b200000+4a0000] likely on CPU 3 (core 3, socket 0)", "crash:php-fpm8.2"),
    ("traps: myapp[3141] general protection fault ip:55f1c2a3b4c5 sp:7ffd2c3b4a50 error:0 in "
     "myapp[55f1c2a00000+5000]", "crash:myapp"),
    ("traps: node[991] trap invalid opcode ip:55d0c1 sp:7ffc0 error:0 in node[55d0c0000000+4000000]", "crash:node"),
    ("blk_update_request: I/O error, dev sdc, sector 2048 op 0x1:(WRITE) flags 0x800 phys_seg 1 prio class 0",
     "hw.disk_io:sdc"),
    ("critical medium error, dev sda, sector 495098880 op 0x0:(READ) flags 0x80700 phys_seg 1 prio class 2",
     "hw.disk_io:sda"),
    ("Buffer I/O error on dev sdb1, logical block 0, lost sync page write", "hw.disk_io:sdb1"),
    ("ata1.00: failed command: READ FPDMA QUEUED", "hw.disk_io:ata1.00"),
    ("nvme nvme0: I/O 123 QID 4 timeout, aborting", "hw.disk_io:nvme0"),
    ("EXT4-fs error (device sdb1): ext4_find_entry:1463: inode #2: comm nginx: reading directory lblock 0",
     "fs.error:sdb1"),
    ("EXT4-fs (sdb1): Remounting filesystem read-only", "fs.readonly:sdb1"),
    ("XFS (dm-2): Filesystem has been shut down due to log error (0x2).", "fs.readonly:dm-2"),
    ("BTRFS error (device sda2): bdev /dev/sda2 errs: wr 0, rd 1, flush 0, corrupt 0, gen 0", "fs.error:sda2"),
    ("Aborting journal on device sdb1-8.", "fs.error:sdb1"),
    ("mce: [Hardware Error]: Machine check events logged", "hw.mce:web1"),
    ("EDAC MC0: 1 UE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 slot:0 page:0x8a2f1)",
     "hw.mce:web1"),
    ("mce: CPU2: Core temperature above threshold, cpu clock throttled (total events = 31337)", "hw.thermal:web1"),
])
def test_each_kernel_event(message: str, fid: str) -> None:
    engine = _kern([message])
    assert [f.id for f in engine.findings()] == [fid]


def test_uncorrected_memory_error_is_alert() -> None:
    engine = _kern(["EDAC MC0: 1 UE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 slot:0)"])
    assert engine.get("hw.mce:web1").severity == 1


@pytest.mark.parametrize("message", [
    "EXT4-fs (sda1): mounted filesystem 3b1f0c2e with ordered data mode. Quota mode: none.",
    "EXT4-fs (sda1): re-mounted 3b1f0c2e. Opts: errors=remount-ro. Quota mode: none.",
    "XFS (sdb1): Mounting V5 Filesystem 9c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f",
    "ata1: SATA link up 6.0 Gbps (SStatus 133 SControl 300)",
    "ata1.00: configured for UDMA/133",
    "EDAC MC: Ver: 3.0.0",
    "mce: CPU0: Thermal monitoring enabled (TM1)",
    "pcieport 0000:00:1c.0: AER: enabled with IRQ 122",
    "nvme nvme0: 8/0/0 default/read/poll queues",
    "sd 0:0:0:0: [sda] Write cache: enabled, read cache: enabled, doesn't support DPO or FUA",
    "Intel machine check reporting enabled on CPU#0.",
])
def test_boot_chatter_is_not_a_finding(message: str) -> None:
    assert _kern([message]).findings() == []


def test_no_space_left_from_any_program_in_the_journal() -> None:
    lines = []
    for i, (ident, msg) in enumerate([
            ("postgres", 'PANIC:  could not write to file "pg_wal/xlogtemp.2291": No space left on device'),
            ("logrotate", "error: error creating output file /var/log/nginx/access.log.1: No space left on device")]):
        lines.append(json.dumps({"__CURSOR": f"c{i}", "__REALTIME_TIMESTAMP": str(1714557600000000 + i),
                                 "_HOSTNAME": "db4", "PRIORITY": "2", "SYSLOG_IDENTIFIER": ident, "MESSAGE": msg}))
    engine = FindingsEngine(persist_templates=False)
    for record in parse_lines("journal", lines, origin="journal"):
        engine.feed(record)
    f = engine.get("disk.full:db4")
    assert f is not None and f.count == 2 and f.severity == 2
    assert "/var/log/nginx/access.log.1" in f.keys["path"]
    assert set(f.keys["unit"]) == {"postgres", "logrotate"}


def test_systemd_oom_line_alone_names_the_unit() -> None:
    lines = ["2024-05-01T10:00:00.000000+00:00 app1 systemd[1]: worker.service: A process of this unit has been killed "
             "by the OOM killer."]
    engine = FindingsEngine(persist_templates=False)
    engine.feed_all(parse_lines("syslog", lines, origin="syslog"))
    f = engine.get("kernel.oom:worker.service")
    assert f is not None and f.title == "OOM killer killed a process of worker.service"
