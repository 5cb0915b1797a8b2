"""Brute-force protection that cannot be turned against a charger's owner.

The old rule (ten wrong keys for a charger lock it, the right key too) let anyone who knew a charger
id (printed on the charger) keep it offline. Here a refusal before the key is checked is always
keyed by the *source* of the attempt (the peer IP locally; ``requestContext.identity.sourceIp`` of
the ``$connect`` authorizer event in AWS):

- per source: after ``SOURCE_FREE`` wrong keys (or unknown ids) from one source, that source waits
  ``BASE_DELAY * 2**(n - SOURCE_FREE)`` (at most ``MAX_DELAY``) after each further failure;
- per charger and source: after ``PAIR_FREE`` wrong keys for one charger from one source, that
  source waits the same way before it may try that charger again;
- per charger: failures from every source are counted for operators (and an alarm) but never refuse
  anything, so an attacker's failures from one source never make the right key fail from another.

While a source is waiting it is refused without any scrypt work and without a write, so one source
gets at most ``SOURCE_FREE`` + one verification per (doubling) delay: a flood cannot burn unbounded
scrypt CPU. Across many sources the authorizer's concurrency (Lambda reserved concurrency; the local
gateway's two handshake threads) bounds it. Counters expire ``FORGET_AFTER`` after their last
failure. The policy follows OWASP's authentication cheat sheet ("account lockout" by source and
account with exponential back-off, never a hard lock an attacker can trigger) and NIST SP 800-63B
section 5.2.2 (rate limiting that does not let an attacker deny a legitimate subscriber).

Behind CloudFront the ``sourceIp`` API Gateway sees is the edge's address, shared by every viewer
that edge serves: keyed by it, an attacker could make a charger on the same edge wait.
:func:`handshake_source` therefore keys by the viewer's own address (``CloudFront-Viewer-Address``,
which CloudFront sets from the viewer's TCP connection) -- but only on a request that carries the
secret origin header (``csms.ocpp.certificates.ORIGIN_SECRET_HEADER``), since a client calling the
API Gateway endpoint directly can send any header it likes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from csms.ocpp.ports import FailureStore

SOURCE_FREE = 20  # a site's chargers behind one NAT may share a source: allow some mistakes
PAIR_FREE = 5
BASE_DELAY = timedelta(seconds=1)
MAX_DELAY = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)

THROTTLED = "throttled: too many failures from this source, try again later"

# Added by CloudFront when the origin request policy lists it (infra/cloudfront.py): "<ip>:<port>"
VIEWER_ADDRESS = "CloudFront-Viewer-Address"


def viewer_ip(value: str | None) -> str | None:
    """The viewer's IP address (canonical text) in a ``CloudFront-Viewer-Address`` value, or None
    when it is missing or unreadable.

    CloudFront sends ``<ip>:<port>``: ``198.51.100.10:46532`` for IPv4 and, for IPv6, the address
    unbracketed with the port after its last colon (``2001:db8::8:46532``); the bracketed socket
    form (``[2001:db8::8]:46532``) is read too. The port (the viewer's source port, different on
    every connection) is dropped: a source is an address. IPv6 addresses come back compressed
    (``2001:db8::8``), so one viewer has one text whatever zeros the edge writes. Source: AWS
    CloudFront Developer Guide, "Add CloudFront request headers" (headers to determine the
    viewer's location).
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("["):
        address, bracket, port = text[1:].partition("]")
        if not bracket or not port.startswith(":"):
            return None
        port = port[1:]
    else:
        address, colon, port = text.rpartition(":")
        if not colon:
            return None
    if not (port.isascii() and port.isdigit() and len(port) <= 5 and int(port) <= 65535):
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return ip.compressed


def handshake_source(source_ip: str | None, viewer_address: str | None, trusted_edge: bool) -> str | None:
    """The source a handshake's failures are counted under: the viewer's IP from
    ``CloudFront-Viewer-Address`` when the request came through the edge (``trusted_edge``: it
    carries the secret origin header) and the value is readable, else ``source_ip`` (API Gateway's
    ``requestContext.identity.sourceIp``; locally the socket's peer). A direct caller's own
    ``CloudFront-Viewer-Address`` is never believed: it could name anyone's address."""
    if trusted_edge:
        viewer = viewer_ip(viewer_address)
        if viewer is not None:
            return viewer
    return source_ip


@dataclass(frozen=True)
class FailureCount:
    """Failures counted under one key: ``count`` since ``first_at``; the latest at ``last_at``
    (UTC) from ``last_source`` (an IP address)."""

    count: int
    first_at: datetime
    last_at: datetime
    last_source: str | None = None


def source_key(source: str) -> str:
    return f"authfail#src#{source}"


def pair_key(charge_point_id: str, source: str) -> str:
    return f"authfail#cp#{charge_point_id}#src#{source}"


def charger_key(charge_point_id: str) -> str:
    return f"authfail#cp#{charge_point_id}"


def delay(count: int, free: int) -> timedelta:
    """How long a source waits after its ``count``-th failure when ``free`` are allowed."""
    if count < free:
        return timedelta(0)
    return min(BASE_DELAY * (2 ** min(count - free, 20)), MAX_DELAY)


def blocked_until(failures: FailureCount | None, free: int) -> datetime | None:
    if failures is None:
        return None
    wait = delay(failures.count, free)
    return failures.last_at + wait if wait else None


class Attempt:
    """One handshake's view of the counters: ``gate`` (before the key is checked), then
    ``failed`` or ``succeeded``. One read per handshake; writes only on failures (and one to clear a
    charger/source pair's counter when its right key finally arrives)."""

    def __init__(self, store: FailureStore, source: str | None, now: datetime):
        self.store, self.source, self.now = store, source or "unknown", now
        self._pair: FailureCount | None = None
        self._source: FailureCount | None = None
        self._counted: dict[bool, int] = {}  # known_charger -> the count the failure's own update answered

    def gate(self, charge_point_id: str) -> str | None:
        """The reason to refuse before any key check, or None to go on."""
        keys = [source_key(self.source), pair_key(charge_point_id, self.source)]
        found = self.store.read(keys, self.now)
        self._pair = found.get(keys[1])
        self._source = found.get(keys[0])
        for failures, free in ((found.get(keys[0]), SOURCE_FREE), (self._pair, PAIR_FREE)):
            until = blocked_until(failures, free)
            if until is not None and self.now < until:
                return THROTTLED
        return None

    def failed(self, charge_point_id: str | None, known_charger: bool) -> None:
        """A wrong key (``known_charger``) or an unknown charge point id from this source."""
        self._counted[False] = self.store.add(source_key(self.source), self.now, None, FORGET_AFTER)
        if known_charger and charge_point_id:
            self._counted[True] = self.store.add(pair_key(charge_point_id, self.source), self.now, self.source,
                                                 FORGET_AFTER)
            self.store.add(charger_key(charge_point_id), self.now, self.source, FORGET_AFTER)

    def count_after_failure(self, known_charger: bool) -> int:
        """Failures counted, this one included: of the charger from this source (a wrong key), or of
        this source (an unknown id). After ``failed``: what its atomic update answered, so concurrent
        failures never share a number and a threshold (``csms.console.alerts``) is never skipped;
        before it, the gate's read plus one. No read of its own."""
        if known_charger in self._counted:
            return self._counted[known_charger]
        seen = self._pair if known_charger else self._source
        return (seen.count if seen is not None else 0) + 1

    def succeeded(self, charge_point_id: str) -> None:
        if self._pair is not None:
            self.store.clear(pair_key(charge_point_id, self.source))


def charger_failures(store: FailureStore, charge_point_id: str, now: datetime) -> dict:
    """For operators: wrong keys for a charger in the last hour, from every source (never a lock)."""
    failures = store.read([charger_key(charge_point_id)], now).get(charger_key(charge_point_id))
    return {"charger": charge_point_id, "failures": failures.count if failures else 0,
            "first_at": failures.first_at if failures else None, "last_at": failures.last_at if failures else None,
            "last_source": failures.last_source if failures else None}


def source_failures(store: FailureStore, source: str, now: datetime) -> dict:
    """For operators: failures from one source and until when it is refused (None: it is not)."""
    failures = store.read([source_key(source)], now).get(source_key(source))
    until = blocked_until(failures, SOURCE_FREE)
    return {"source": source, "failures": failures.count if failures else 0,
            "last_at": failures.last_at if failures else None,
            "refused_until": until if until is not None and until > now else None}
