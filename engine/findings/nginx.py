"""nginx: access-log patterns (5xx bursts, request-rate spikes, scanners, credential
stuffing, exposed secret files) and error-log events (upstream timeouts,
refused upstream connections, no live upstreams, TLS handshake failures,
``[emerg]`` configuration errors).

Baselines are per source (``Record.origin``: one access log per site) and run on
event time; see ``alsate.engine.templates.rate``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from alsate.engine.findings.engine import FindingSink
from alsate.engine.findings.ident import ident
from alsate.engine.findings.window import Burst
from alsate.engine.records import Record, SourceKind
from alsate.engine.templates.rate import MinuteRate

if TYPE_CHECKING:
    from alsate.engine.findings.access_batch import AccessBatch

# -- thresholds -----------------------------------------------------------------------------
#: 5xx in one minute: at least FIVEXX_MIN above FIVEXX_FACTOR times the baseline.
FIVEXX_MIN = 20
FIVEXX_FACTOR = 4.0
#: Requests in one minute: at least this many, and RATE_FACTOR times the baseline.
RATE_MIN = 300
RATE_FACTOR = 3.0
#: Minutes of a site's history before its baselines are trusted (nothing is judged before).
WARM_MINUTES = 5
#: Scanner: distinct 404 paths from one address within SCAN_WINDOW, most of its requests failing,
#: or distinct known probe paths.
SCAN_404_PATHS = 20
SCAN_ERROR_SHARE = 0.5
SCAN_PROBES = 3
SCAN_WINDOW = 600.0
#: Credential stuffing: failed logins (401/403 on a login endpoint) from one address within STUFF_WINDOW.
STUFF_THRESHOLD = 10
STUFF_WINDOW = 300.0
#: Client addresses remembered for the scanner's error share; past this many a new one starts afresh.
MAX_ADDRESSES = 500_000
#: TLS handshake failures per server within TLS_WINDOW.
TLS_THRESHOLD = 5
TLS_WINDOW = 600.0

#: Paths nobody asks for except scanners (prefixes, lower case).
PROBE_PREFIXES = (
    "/.env", "/.git/", "/.svn/", "/.hg/", "/.aws/", "/.ssh/", "/.docker", "/.ds_store", "/.htpasswd", "/.htaccess",
    "/wp-login.php", "/wp-admin", "/wp-config", "/wp-content/plugins", "/wp-includes", "/xmlrpc.php",
    "/phpmyadmin", "/pma/", "/myadmin", "/mysqladmin", "/adminer", "/admin/config.php", "/config.php",
    "/phpinfo", "/info.php", "/server-status", "/server-info", "/cgi-bin/", "/boaform", "/hnap1",
    "/actuator", "/console/", "/solr/", "/owa/", "/autodiscover", "/vendor/phpunit", "/manager/html",
    "/shell", "/backup", "/dump.sql", "/db.sql", "/.well-known/security.txt~", "/id_rsa", "/config.json",
    "/debug/default/view", "/telescope", "/_ignition", "/containers/json", "/remote/login", "/geoserver",
)
PROBE_CONTAINS = ("../", "..%2f", "/etc/passwd", "eval-stdin.php", "/.git/", "/.env", "win.ini", "<script")
#: Probe paths whose 2xx answer means a secret was served.
SECRET_PATHS = ("/.env", "/.git/config", "/.git/head", "/.aws/credentials", "/.htpasswd", "/.ssh/id_rsa", "/id_rsa",
                "/wp-config.php.bak", "/wp-config.php~", "/dump.sql", "/db.sql", "/backup.sql", "/.docker/config.json")
_LOGIN = re.compile(r"(?:^|/)(?:log-?in|sign-?in|sign_in|logon|auth|authenticate|session|sessions|token|oauth/token|"
                    r"wp-login\.php|xmlrpc\.php|j_security_check|user/login|account/login|admin/login)"
                    r"(?:/|\.\w+|$)")


def _classify(path: str) -> int:
    """Bit 1: probe path, bit 2: secret path, bit 4: login endpoint."""
    low = path.split("?", 1)[0].lower()
    flags = 0
    if low.startswith(PROBE_PREFIXES) or any(s in low for s in PROBE_CONTAINS):
        flags |= 1
    if low.rstrip("/") in SECRET_PATHS:
        flags |= 2
    if _LOGIN.search(low):
        flags |= 4
    return flags


class _Site:
    """One access log's per-minute state. The current minute's records are kept as their positions
    and client addresses (evidence and top talkers of a rate spike), its 5xx as ``(position,
    status, path without query)``."""

    __slots__ = ("total", "errors5", "minute", "positions", "addresses", "records5", "spiking", "bursting",
                 "spike_at")

    def __init__(self) -> None:
        self.total = MinuteRate()
        self.errors5 = MinuteRate()
        self.minute = -1
        self.positions: list[int | str] = []
        self.addresses: list[str] = []
        self.records5: list[tuple[int | str, str, str]] = []
        self.spiking = False
        self.bursting = False
        #: Request count at which this minute is a spike (set when the minute starts).
        self.spike_at = float("inf")

    def new_minute(self, minute: int) -> None:
        """The site's clock moved to ``minute`` (its ``total`` has just rolled over)."""
        self.minute = minute
        self.positions = []
        self.addresses = []
        self.records5 = []
        self.spiking = self.bursting = False
        total = self.total
        self.spike_at = max(RATE_MIN, RATE_FACTOR * total.baseline) if total.history >= WARM_MINUTES \
            else float("inf")


def wp_login_post(method: str | None, path: str) -> int:
    """Bit 8 of a request's flags: a POST to ``wp-login.php`` (answered 200 when the login failed)."""
    return 8 if method == "POST" and "wp-login.php" in path else 0


def login_failure(flags: int, status: int) -> bool:
    """A failed login as the stuffing detector counts it (``flags``: :func:`_classify` | :func:`wp_login_post`)."""
    return bool(flags & 4) and (status in (401, 403) or (status == 200 and bool(flags & 8)))


class NginxAccessDetector:
    name = "nginx.access"
    kinds = frozenset({SourceKind.NGINX_ACCESS})
    policy = False

    def __init__(self) -> None:
        self._sites: dict[str, _Site] = {}
        self._paths: dict[str, int] = {}
        #: ip -> [window start, requests, 4xx, previous window's requests, previous 4xx]
        #: for the scanner's error share (this window and the one before).
        self._ips: dict[str, list] = {}
        self.scan404 = Burst(SCAN_404_PATHS, SCAN_WINDOW, distinct=True)
        self.probes = Burst(SCAN_PROBES, SCAN_WINDOW, distinct=True)
        self.stuffing = Burst(STUFF_THRESHOLD, STUFF_WINDOW)

    def site(self, origin: str) -> _Site:
        site = self._sites.get(origin)
        if site is None:
            site = self._sites[origin] = _Site()
        return site

    def feed(self, record: Record, template_key: str, sink: FindingSink) -> None:
        extra = record.extra
        if extra is None:
            return
        status = extra.get("status") or 0
        ts = record.ts
        origin = record.origin
        site = self._sites.get(origin) or self.site(origin)
        minute = int(ts // 60)
        total = site.total
        if minute == total.minute:
            total.count += 1
            n = total.count
        else:
            n = total.add(ts)
            if minute > site.minute:
                site.new_minute(minute)
        site.positions.append(record.pos)
        site.addresses.append(extra.get("remote_addr", "-"))
        if site.spiking:
            self.report_spike(origin, site, [record.pos], site.addresses[-1:], ts, sink, template_key)
        elif n >= site.spike_at:
            site.spiking = True
            self.report_spike(origin, site, site.positions, site.addresses, ts, sink, template_key)
        path = extra.get("path") or ""
        if status >= 500:
            self.server_error(origin, site, record.pos, status, extra.get("path", "").split("?", 1)[0], ts, sink,
                              template_key)
        ip = extra.get("remote_addr") or "-"
        state = self._ips.get(ip)
        if state is None:
            if len(self._ips) > MAX_ADDRESSES:
                self._ips.clear()
            state = self._ips[ip] = [ts, 0, 0, 0, 0]
        elif ts - state[0] > SCAN_WINDOW:
            fresh = ts - state[0] > 2 * SCAN_WINDOW
            state[:] = [ts, 0, 0, 0 if fresh else state[1], 0 if fresh else state[2]]
        state[1] += 1
        if 400 <= status < 500:
            state[2] += 1
        flags = self.path_flags(path)
        if not flags & 1 and status != 404 and not flags & 4:
            return
        rid = record.id
        if flags & 1:
            self.probe(origin, ip, path, status, flags, str(extra.get("body_bytes_sent", "0")), ts, rid, sink,
                       template_key)
        elif status == 404:
            hit = self.scan404.add(ip, ts, rid, path.split("?", 1)[0])
            if hit is not None:
                if state[2] + state[4] >= SCAN_ERROR_SHARE * (state[1] + state[3]):
                    self.scanner(origin, ip, hit, ts, sink, template_key)
                else:
                    # many 404s, but among many good requests: a busy client, not a scanner
                    self.scan404.reset(ip)
        if login_failure(flags | wp_login_post(extra.get("method"), path), status):
            self.login_failed(ip, path, ts, rid, sink, template_key)

    def path_flags(self, path: str) -> int:
        """:func:`_classify` of ``path``, remembered."""
        flags = self._paths.get(path)
        if flags is None:
            flags = _classify(path)
            if len(self._paths) > 100_000:
                self._paths.clear()
            self._paths[path] = flags
        return flags

    def feed_access(self, batch: AccessBatch, sink: FindingSink) -> None:
        """:meth:`feed` for a run of records given column-wise, with the same findings."""
        from alsate.engine.findings.nginx_columns import feed_access

        feed_access(self, batch, sink)

    # -- what both paths share: one event each ------------------------------------------------

    def report_spike(self, origin: str, site: _Site, positions: list[int | str], addresses: list[str], ts: float,
                     sink: FindingSink, tkey: str) -> None:
        ips: dict[str, int] = {}
        for a in addresses:
            ips[a] = ips.get(a, 0) + 1
        top = sorted(ips, key=ips.get, reverse=True)[:5]  # type: ignore[arg-type]
        sink.report(f"nginx.rate_spike:{origin}", detector="nginx.rate_spike",
                    title=f"Request rate spike on {origin}", category="performance", severity=4,
                    ts=ts, evidence=[f"{origin}#{pos}" for pos in positions], keys={"ip": top, "source": origin},
                    template_key=tkey,
                    detail=f"{site.total.count} requests this minute against a baseline of "
                           f"{site.total.baseline:.0f}/min")

    def server_error(self, origin: str, site: _Site, pos: int | str, status: int, bare: str, ts: float,
                     sink: FindingSink, tkey: str) -> None:
        """A 5xx response: counted in its minute, reported once the minute is a burst."""
        n = site.errors5.add(ts)
        this = (pos, str(status), bare)
        site.records5.append(this)
        if site.bursting:
            records = [this]
        else:
            if n < FIVEXX_MIN or site.total.history < WARM_MINUTES:
                return
            if n < FIVEXX_FACTOR * site.errors5.baseline + FIVEXX_MIN:
                return
            site.bursting = True
            records = site.records5
        sink.report(f"nginx.5xx_burst:{origin}", detector="nginx.5xx_burst",
                    title=f"Burst of 5xx responses on {origin}", category="availability", severity=3,
                    ts=ts, evidence=[f"{origin}#{r[0]}" for r in records],
                    keys={"status": sorted({r[1] for r in records}),
                          "path": sorted({r[2] for r in records})[:20], "source": origin},
                    template_key=tkey,
                    detail=f"{site.errors5.count} server errors this minute (baseline "
                           f"{site.errors5.baseline:.1f}/min)")

    def probe(self, origin: str, ip: str, path: str, status: int, flags: int, sent: str, ts: float, rid: str,
              sink: FindingSink, tkey: str) -> None:
        """A request for a probe path (``flags & 1``); ``sent``: ``$body_bytes_sent`` as text."""
        if flags & 2 and 200 <= status < 300 and sent not in ("0", "-"):
            bare = path.split("?", 1)[0]
            sink.report(f"nginx.exposed:{bare}", detector="nginx.exposed", title=f"Secret file {bare} was served",
                        category="security", severity=2, ts=ts, evidence=[rid],
                        keys={"path": bare, "ip": ip, "source": origin}, template_key=tkey,
                        detail=f"answered {status} with a body: rotate whatever it holds and block the path")
        hit = self.probes.add(ip, ts, rid, path.split("?", 1)[0].lower())
        if hit is not None:
            self.scanner(origin, ip, hit, ts, sink, tkey)

    def scanner(self, origin: str, ip: str, hit: list[tuple[str, str]], ts: float, sink: FindingSink,
                tkey: str) -> None:
        sink.report(f"nginx.scanner:{ip}", detector="nginx.scanner", title=f"Scanner probing from {ip}",
                    category="security", severity=5, ts=ts, evidence=[r for r, _ in hit],
                    keys={"ip": ip, "path": [p for _, p in hit], "source": origin}, template_key=tkey,
                    detail="known probe paths or many distinct missing paths from one address")

    def login_failed(self, ip: str, path: str, ts: float, rid: str, sink: FindingSink, tkey: str) -> None:
        hit = self.stuffing.add(ip, ts, rid, path)
        if hit is not None:
            sink.report(f"nginx.credential_stuffing:{ip}", detector="nginx.credential_stuffing",
                        title=f"Credential stuffing from {ip}", category="security", severity=4, ts=ts,
                        evidence=[r for r, _ in hit], keys={"ip": ip, "path": [p for _, p in hit]},
                        template_key=tkey,
                        detail=f"{STUFF_THRESHOLD}+ failed logins on login endpoints within "
                               f"{int(STUFF_WINDOW // 60)} min")


# -- error log ------------------------------------------------------------------------------

_UPSTREAM_URL = re.compile(r'upstream: "(?P<up>[^"]+)"')
_CONF_FILE = re.compile(r" in (?P<file>/[^\s:]+)(?::\d+)?$")
_TLS = re.compile(r"SSL_do_handshake\(\) failed|SSL_read\(\) failed|SSL_write\(\) failed|"
                  r"peer closed connection in SSL handshake|ssl_stapling|SSL handshaking")
_NGINX_SYSLOG = re.compile(r"(?:^|\s)\[(?P<level>emerg|alert|crit|error|warn)\] (?:\d+#\d+: )?(?:\*\d+ )?(?P<text>.*)")
_CLIENT = re.compile(r"client: (?P<client>[^,\s]+)")
_SERVER = re.compile(r"server: (?P<server>[^,\s]+)")


class NginxErrorDetector:
    name = "nginx.error"
    kinds = frozenset({SourceKind.NGINX_ERROR, SourceKind.JOURNAL, SourceKind.SYSLOG})
    policy = False

    def __init__(self) -> None:
        self.tls = Burst(TLS_THRESHOLD, TLS_WINDOW)

    def feed(self, record: Record, template_key: str, sink: FindingSink) -> None:
        msg = record.message
        if record.kind == SourceKind.NGINX_ERROR:
            extra = record.extra or {}
            level = extra.get("level", "")
        else:
            if not ident(record).startswith("nginx") or "[" not in msg:
                return
            m = _NGINX_SYSLOG.search(msg)
            if m is None:
                return
            level, msg = m["level"], m["text"]
            extra = {}
        if "upstream" in msg:
            self._upstream(record, msg, extra, template_key, sink)
        elif "SSL" in msg and _TLS.search(msg):
            server = extra.get("server") or _match(_SERVER, msg, "server") or record.origin
            client = extra.get("client") or _match(_CLIENT, msg, "client")
            hit = self.tls.add(server, record.ts, record.id, client)
            if hit is not None:
                sink.report(f"nginx.tls_handshake:{server}", detector="nginx.tls_handshake",
                            title=f"TLS handshake failures on {server}", category="security", severity=4,
                            ts=record.ts, evidence=[r for r, _ in hit],
                            keys={"server": server, "ip": [c for _, c in hit if c]},
                            template_key=template_key,
                            detail="clients failing the TLS handshake: old clients, scanners, or a bad "
                                   "certificate/protocol setup")
            return
        if level == "emerg":
            m = _CONF_FILE.search(msg)
            subject = m["file"] if m is not None else template_key
            sink.report(f"nginx.emerg:{subject}", detector="nginx.emerg", title="nginx configuration error [emerg]",
                        category="configuration", severity=0, ts=record.ts, evidence=[record.id],
                        keys={"file": m["file"] if m else "", "host": record.host}, template_key=template_key,
                        detail="nginx refuses this configuration: run nginx -t")

    def _upstream(self, record: Record, msg: str, extra: dict, tkey: str, sink: FindingSink) -> None:
        if "upstream timed out" in msg:
            what, title, severity = "upstream_timeout", "Upstream timed out", 3
        elif "connect() failed" in msg or ("connect() to " in msg and "failed" in msg):
            what, title, severity = "upstream_connect", "Upstream refused connections", 3
        elif "no live upstreams" in msg:
            what, title, severity = "no_live_upstreams", "No live upstreams", 2
        else:
            return
        up = extra.get("upstream") or ""
        if not up:
            m = _UPSTREAM_URL.search(msg)
            up = m["up"] if m is not None else "?"
        up = _upstream_name(up)
        client = extra.get("client") or _match(_CLIENT, msg, "client")
        request = extra.get("request") or ""
        sink.report(f"nginx.{what}:{up}", detector=f"nginx.{what}", title=f"{title}: {up}", category="availability",
                    severity=severity, ts=record.ts, evidence=[record.id],
                    keys={"upstream": up, "ip": client, "request": request[:200], "host": record.host},
                    template_key=tkey)


def _upstream_name(url: str) -> str:
    """``http://127.0.0.1:8080/api`` -> ``127.0.0.1:8080``; ``fastcgi://unix:/run/php/fpm.sock:`` -> the socket."""
    rest = url.split("://", 1)[-1]
    if rest.startswith("unix:"):
        return rest.rstrip(":")
    return rest.split("/", 1)[0] or "?"


def _match(rx: re.Pattern[str], text: str, group: str) -> str:
    m = rx.search(text)
    return m[group] if m is not None else ""
