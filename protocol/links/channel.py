"""A channel simulator between spacecraft and station: bit errors, frame loss, delay and a data-rate limit.

Run as a process (``python -m protocol.links.channel`` or ``ttc channel``):
it relays CADUs from ``--sc-down`` (receiver) to ``--gs-down`` (sender) and
CLTUs from ``--gs-up`` (receiver) to ``--sc-up`` (sender), impairing each
direction with :class:`Impairment`. This is where a software-defined radio
will later sit: the process boundary and the link URLs stay, the model goes.

The impairment model is sans-IO (numpy only, time passed in): given frames
and their arrival times it returns the impaired frames and their release
times, so it is tested without sockets or clocks.

* Bit errors: each transmitted bit flips independently with probability
  ``ber`` (a binary symmetric channel, the usual model behind a BER figure);
  the number of flips per frame is drawn from the binomial distribution and
  their positions uniformly, from a seeded ``numpy.random.Generator``.
* Loss: a whole frame is lost with probability ``loss`` (a fade, a missed
  acquisition). A lost frame still occupied the channel for its air time.
* Rate: a frame of N octets occupies the channel for ``8 N / rate_bps``
  seconds; frames queue behind each other; at most ``queue_limit`` frames
  wait, later ones are dropped and counted (a radio's finite buffer).
* Delay: every frame arrives ``delay_s`` after its last bit left (propagation
  and processing latency).
* Visibility (:class:`Visibility`, ``ttc channel --contacts passes.json``): the link is up only inside
  predicted contact windows -- the JSON ``ttc passes --format json`` or ``ttc plan --format json`` writes (AOS
  and LOS in UTC; any of its stations seeing the satellite opens the link) -- on a simulated clock (``--sim-start``, ``--speed``, the
  spacecraft's ``--start-utc`` and ``--speed``), so a test or the demo flies real passes in accelerated time.
  A frame arriving out of view, or still waiting for the channel at LOS, is dropped and counted
  (``frames_out_of_view``); AOS and LOS are logged. With ``rate_bps`` in a window (the contact plan's link
  budget) the channel's rate follows it. With ``--link-budget EBN0_DB@RANGE_KM`` and the windows' geometry
  (``ttc plan`` writes the range to the station every 10 s) the bit error rate follows the free-space path
  loss (:class:`LinkBudget`): low passes and the ends of every pass lose frames the middle keeps. Doppler is
  not applied: the station's radio follows it (``ttc track``), and what it leaves is taken as nil.
* At the sample level (:class:`SampleLevel`, ``ttc channel --sample-level``): instead of flipping bits,
  the released CADUs are modulated (:mod:`protocol.radio`: BPSK or GMSK, optional convolutional code and
  NRZ-M), pass an IQ channel with AWGN at ``--ebn0-db``, a carrier offset and a Doppler ramp, and are
  demodulated and synchronised again: what arrives is what a receiver would make of the signal, errors
  in bursts where the noise put them, CADUs missing where the synchroniser lost them. The CADUs still
  inside the demodulator (its estimation blocks: a few thousand symbols) come out with the next ones.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from types import FrameType as _StackFrame

import numpy as np

from ..errors import LocalProtocolError, ProtocolError

__all__ = ["Contact", "Gated", "contact_edges", "Impairment", "ImpairmentStats", "LinkBudget", "SampleLevel", "Scheduled", "Visibility",
           "command", "main", "run"]

LAYER = "channel"
DEFAULT_QUEUE_LIMIT = 1000  # frames waiting for the channel per direction
STATS_INTERVAL_S = 10.0

log = logging.getLogger("ttc.channel")


@dataclass(frozen=True, slots=True)
class Scheduled:
    """A frame accepted by the channel: its (impaired) octets, when it is released, and how damaged it is."""

    data: bytes
    release_s: float
    bits_flipped: int
    lost: bool  # True: occupied the channel but never arrives (not released)


@dataclass
class ImpairmentStats:
    """Counts of one direction of the channel."""

    frames_in: int = 0
    frames_relayed: int = 0
    frames_lost: int = 0  # lost on the air (loss probability)
    frames_dropped: int = 0  # dropped because the queue was full (rate limit)
    bits_flipped: int = 0
    octets_in: int = 0
    frames_out_of_view: int = 0  # arrived, or still waiting, while no station saw the satellite

    def as_dict(self) -> dict[str, int]:
        """A JSON-ready dict."""
        return dict(vars(self))


def _check(name: str, value: float, lo: float, hi: float) -> None:
    if not lo <= value <= hi:
        raise LocalProtocolError(LAYER, name, value, f"{lo:g}..{hi:g}")


@dataclass
class Impairment:
    """One direction of the channel, sans-IO: ``submit(frame, now_s)`` then ``pop_due(now_s)``.

    ``rate_bps`` 0 means unlimited (no air time, no queue). Times are any
    monotonic seconds the caller chooses.
    """

    ber: float = 0.0
    loss: float = 0.0
    delay_s: float = 0.0
    rate_bps: float = 0.0
    queue_limit: int = DEFAULT_QUEUE_LIMIT
    seed: int | None = None
    stats: ImpairmentStats = field(default_factory=ImpairmentStats)

    def __post_init__(self) -> None:
        _check("ber", self.ber, 0.0, 0.5)
        _check("loss", self.loss, 0.0, 1.0)
        _check("delay_s", self.delay_s, 0.0, 3600.0)
        _check("rate_bps", self.rate_bps, 0.0, 1e12)
        _check("queue_limit", self.queue_limit, 1, 1 << 24)
        self._rng = np.random.default_rng(self.seed)
        self._busy_until_s = -np.inf  # when the last accepted frame's last bit leaves
        self._on_air: deque[float] = deque()  # end-of-transmission times of frames not yet fully sent
        self._pending: deque[Scheduled] = deque()  # release times never decrease: FIFO, constant delay

    def air_time_s(self, octets: int) -> float:
        """Seconds a frame of ``octets`` occupies the channel (0 when the rate is unlimited)."""
        return 8.0 * octets / self.rate_bps if self.rate_bps > 0 else 0.0

    def flip_bits(self, frame: bytes) -> tuple[bytes, int]:
        """``frame`` with each bit flipped with probability ``ber``, and the number of bits flipped."""
        nbits = 8 * len(frame)
        if self.ber <= 0 or nbits == 0:
            return bytes(frame), 0
        count = int(self._rng.binomial(nbits, self.ber))
        if count == 0:
            return bytes(frame), 0
        positions = self._rng.choice(nbits, size=count, replace=False)
        arr = np.frombuffer(frame, dtype=np.uint8).copy()
        np.bitwise_xor.at(arr, positions >> 3, (0x80 >> (positions & 7)).astype(np.uint8))
        return arr.tobytes(), count

    def submit(self, frame: bytes, now_s: float) -> Scheduled | None:
        """Accept a frame arriving at ``now_s``; None when the queue is full (dropped, counted)."""
        st = self.stats
        st.frames_in += 1
        st.octets_in += len(frame)
        air_s = self.air_time_s(len(frame))
        if air_s > 0:
            while self._on_air and self._on_air[0] <= now_s:
                self._on_air.popleft()
            if len(self._on_air) >= self.queue_limit:
                st.frames_dropped += 1
                return None
        start_s = max(now_s, self._busy_until_s)
        end_s = start_s + air_s
        self._busy_until_s = end_s
        if air_s > 0:
            self._on_air.append(end_s)
        if self.loss > 0 and self._rng.random() < self.loss:
            st.frames_lost += 1
            return Scheduled(b"", end_s + self.delay_s, 0, lost=True)
        data, flipped = self.flip_bits(frame)
        st.bits_flipped += flipped
        item = Scheduled(data, end_s + self.delay_s, flipped, lost=False)
        self._pending.append(item)
        return item

    def next_release_s(self) -> float | None:
        """When the next waiting frame is due, or None when nothing waits."""
        return self._pending[0].release_s if self._pending else None

    def pop_due(self, now_s: float) -> list[bytes]:
        """The frames whose release time has come, in order (counted as relayed)."""
        out = []
        while self._pending and self._pending[0].release_s <= now_s:
            out.append(self._pending.popleft().data)
        self.stats.frames_relayed += len(out)
        return out

    @property
    def waiting(self) -> int:
        """Frames accepted but not yet released."""
        return len(self._pending)


@dataclass(frozen=True, slots=True)
class Contact:
    """One contact window: AOS and LOS as POSIX seconds (UTC), the station, and the link rate if budgeted."""

    aos_s: float
    los_s: float
    station: str = ""
    rate_bps: float | None = None
    #: (seconds after AOS, range km) samples of the geometry, for a link budget (ttc plan writes them)
    geometry: tuple[tuple[float, float], ...] = ()

    def range_km_at(self, t_s: float) -> float | None:
        """The range at POSIX time ``t_s`` (linear between samples, held beyond them), or None without geometry."""
        if not self.geometry:
            return None
        return float(np.interp(t_s - self.aos_s, [g[0] for g in self.geometry], [g[1] for g in self.geometry]))


@dataclass(frozen=True, slots=True)
class LinkBudget:
    """Free-space path loss over the pass: Eb/N0 is ``ebn0_db`` at ``ref_range_km`` and falls 20 dB a decade of
    range; the bit error rate is coherent BPSK's, 1/2 erfc(sqrt(Eb/N0)) (before any decoding, which the
    receiver's Reed-Solomon does)."""

    ebn0_db: float
    ref_range_km: float

    def __post_init__(self) -> None:
        _check("link budget Eb/N0 (dB)", self.ebn0_db, -10.0, 60.0)
        _check("link budget range (km)", self.ref_range_km, 1.0, 1e6)

    @classmethod
    def parse(cls, text: str) -> LinkBudget:
        """``EBN0_DB@RANGE_KM``, e.g. ``10@1000``."""
        db, _, km = text.partition("@")
        try:
            return cls(float(db), float(km))
        except ValueError:
            raise LocalProtocolError(LAYER, "--link-budget", text, "EBN0_DB@RANGE_KM, e.g. 10@1000") from None

    def ebn0_db_at(self, range_km: float) -> float:
        """Eb/N0 at ``range_km``."""
        return self.ebn0_db + 20.0 * math.log10(self.ref_range_km / max(range_km, 1e-3))

    def ber_at(self, range_km: float) -> float:
        """Bit error rate at ``range_km`` (at most 0.5)."""
        return min(0.5, 0.5 * math.erfc(math.sqrt(10.0 ** (self.ebn0_db_at(range_km) / 10.0))))


def _utc_s(text: object, where: str) -> float:
    from datetime import datetime, timezone

    if not isinstance(text, str):
        raise LocalProtocolError(LAYER, where, text, "an ISO 8601 UTC time such as 2024-03-20T16:52:05Z")
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise LocalProtocolError(LAYER, where, text, "an ISO 8601 UTC time such as 2024-03-20T16:52:05Z") from None
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()


def _geometry(samples: object, where: str) -> tuple[tuple[float, float], ...]:
    """[[seconds after AOS, range km, ...], ...] as (t, range) pairs, times increasing, ranges positive."""
    if not isinstance(samples, list):
        raise LocalProtocolError(LAYER, where, type(samples).__name__, "a list of [seconds after AOS, range km]")
    out: list[tuple[float, float]] = []
    for i, g in enumerate(samples):
        ok = (isinstance(g, list) and len(g) >= 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                            and math.isfinite(v) for v in g[:2]))
        if not ok or not g[1] > 0 or (out and not g[0] > out[-1][0]):
            raise LocalProtocolError(LAYER, f"{where}[{i}]", g, "[seconds after AOS (increasing), range km > 0]")
        out.append((float(g[0]), float(g[1])))
    return tuple(out)


class Visibility:
    """When the link is up, sans-IO: contact windows on a simulated clock.

    ``sim_start_s`` (POSIX seconds, UTC) is the simulated time at the monotonic instant ``t0_s``; the clock
    then runs ``speed`` simulated seconds per second. Overlapping windows (two stations) merge.
    """

    def __init__(self, contacts: list[Contact], *, sim_start_s: float, speed: float = 1.0, t0_s: float = 0.0):
        _check("speed", speed, 1e-3, 1e6)
        for i, c in enumerate(contacts):
            if not c.los_s > c.aos_s:
                raise LocalProtocolError(LAYER, f"contacts[{i}].los", c.los_s, f"after its AOS ({c.aos_s})")
        self.contacts = sorted(contacts, key=lambda c: c.aos_s)
        self.sim_start_s = float(sim_start_s)
        self.speed = float(speed)
        self.t0_s = float(t0_s)

    @classmethod
    def from_json(cls, text: str, *, source: str = "contacts", **clock: float) -> Visibility:
        """The windows of ``ttc passes --format json`` (its ``passes``), of ``ttc plan --format json`` (its
        ``contacts``), or a list of {aos_utc, los_utc[, station, rate_bps]}; an error names the entry and field."""
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise LocalProtocolError(LAYER, source, f"line {e.lineno} column {e.colno}", "JSON") from None
        entries = doc.get("passes", doc.get("contacts")) if isinstance(doc, dict) else doc
        if not isinstance(entries, list):
            raise LocalProtocolError(LAYER, source, type(entries).__name__,
                                     "a list of windows, or an object with 'passes' (ttc passes --format json) "
                                     "or 'contacts' (ttc plan --format json)")
        contacts = []
        for i, e in enumerate(entries):
            where = f"{source}[{i}]"
            if not isinstance(e, dict):
                raise LocalProtocolError(LAYER, where, type(e).__name__, "an object with aos_utc and los_utc")
            rate = e.get("rate_bps")
            if rate is not None and not (isinstance(rate, (int, float)) and 0 < rate <= 1e12):
                raise LocalProtocolError(LAYER, f"{where}.rate_bps", rate, "0 < rate_bps <= 1e12")
            contacts.append(Contact(_utc_s(e.get("aos_utc"), f"{where}.aos_utc"), _utc_s(e.get("los_utc"),
                                    f"{where}.los_utc"), str(e.get("station", "")), rate,
                                    _geometry(e.get("geometry", []), f"{where}.geometry")))
        return cls(contacts, **clock)

    def sim_s(self, now_s: float) -> float:
        """The simulated time (POSIX seconds) at monotonic ``now_s``."""
        return self.sim_start_s + (now_s - self.t0_s) * self.speed

    def contact_at(self, now_s: float) -> Contact | None:
        """The window the satellite is in at monotonic ``now_s`` (the first of overlapping ones), or None."""
        t = self.sim_s(now_s)
        for c in self.contacts:
            if c.aos_s > t:
                return None
            if t < c.los_s:
                return c
        return None

    def next_change_s(self, now_s: float) -> float | None:
        """The monotonic time of the next AOS or LOS after ``now_s``, or None when none is left."""
        t = self.sim_s(now_s)
        edges = [e for c in self.contacts for e in (c.aos_s, c.los_s) if e > t]
        return self.t0_s + (min(edges) - self.sim_start_s) / self.speed if edges else None


class Gated:
    """A direction of the channel that carries frames only while :class:`Visibility` says the link is up, and,
    with a :class:`LinkBudget` and the contacts' geometry, flips bits at the BER of the range at the time."""

    def __init__(self, model: Impairment | SampleLevel, visibility: Visibility,
                 budget: LinkBudget | None = None) -> None:
        if budget is not None and isinstance(model, SampleLevel):
            raise LocalProtocolError(LAYER, "--link-budget", "with --sample-level",
                                     "the bit level (the sample level has its own --ebn0-db)")
        self.model = model
        self.visibility = visibility
        self.budget = budget
        self._base_rate = model.timing.rate_bps if isinstance(model, SampleLevel) else model.rate_bps
        self._base_ber = 0.0 if isinstance(model, SampleLevel) else model.ber

    @property
    def stats(self) -> ImpairmentStats:
        """The wrapped model's counts, ``frames_out_of_view`` included."""
        return self.model.stats

    def submit(self, frame: bytes, now_s: float) -> Scheduled | None:
        """Accept a frame if a station sees the satellite at ``now_s``; otherwise drop it (counted)."""
        contact = self.visibility.contact_at(now_s)
        if contact is None:
            self.stats.frames_in += 1
            self.stats.octets_in += len(frame)
            self.stats.frames_out_of_view += 1
            return None
        timing = self.model.timing if isinstance(self.model, SampleLevel) else self.model
        timing.rate_bps = contact.rate_bps if contact.rate_bps is not None else self._base_rate
        if self.budget is not None and isinstance(self.model, Impairment):
            range_km = contact.range_km_at(self.visibility.sim_s(now_s))
            self.model.ber = self._base_ber if range_km is None else self.budget.ber_at(range_km)
        return self.model.submit(frame, now_s)

    def next_release_s(self) -> float | None:
        """When the next waiting frame is due."""
        return self.model.next_release_s()

    def pop_due(self, now_s: float) -> list[bytes]:
        """The frames due by ``now_s``; out of view, they are dropped (counted) instead of delivered."""
        out = self.model.pop_due(now_s)
        if out and self.visibility.contact_at(now_s) is None:
            self.stats.frames_relayed -= len(out)
            self.stats.frames_out_of_view += len(out)
            return []
        return out

    @property
    def waiting(self) -> int:
        """Frames accepted but not yet released."""
        return self.model.waiting


# =============================================================================== the process

def run(*, sc_down: str, gs_down: str, gs_up: str, sc_up: str, down: Impairment | SampleLevel, up: Impairment,
        stats_interval_s: float = STATS_INTERVAL_S, ready: bool = True,
        visibility: Visibility | None = None, budget: LinkBudget | None = None) -> dict[str, dict[str, int]]:
    """Relay both directions until SIGTERM/SIGINT (only inside ``visibility``'s windows when given); return the
    final per-direction stats."""
    import zmq

    from . import Carries, open_receiver, open_sender

    stop = False

    def _stop(signum: int, _frame: _StackFrame | None) -> None:
        nonlocal stop
        stop = True

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    endpoints: list = []
    try:
        rx_down = open_receiver(sc_down)
        endpoints.append(rx_down)
        rx_up = open_receiver(gs_up, carries=Carries.CLTUS)
        endpoints.append(rx_up)
        tx_down = open_sender(gs_down)
        endpoints.append(tx_down)
        tx_up = open_sender(sc_up, carries=Carries.CLTUS)
        endpoints.append(tx_up)
        gates: list[Gated] = []
        if visibility is not None:
            gates = [Gated(down, visibility, budget), Gated(up, visibility, budget)]
        route_down, route_up = gates or [down, up]
        routes = [(rx_down, route_down, tx_down), (rx_up, route_up, tx_up)]
        poller = zmq.Poller()
        sockets = {}
        for (rx, model, _), url in zip(routes, (sc_down, gs_up)):
            handle = rx.wait_handle()
            if handle is None:
                raise LocalProtocolError(LAYER, "receiver URL", url, "a live link (zmq, gr+zmq, kiss+tcp), not a file")
            poller.register(handle, zmq.POLLIN)
            sockets[handle] = (rx, model)
        urls = {"sc_down": rx_down.url, "gs_down": tx_down.url, "gs_up": rx_up.url, "sc_up": tx_up.url}
        if ready:
            print("READY " + json.dumps(urls), flush=True)
        log.info("channel relaying %s -> %s (down) and %s -> %s (up)", urls["sc_down"], urls["gs_down"],
                 urls["gs_up"], urls["sc_up"])
        next_stats_s = time.monotonic() + stats_interval_s
        in_view: Contact | None = None
        if visibility is not None:
            in_view = visibility.contact_at(time.monotonic())
            log.info("%d contact windows; link %s", len(visibility.contacts),
                     f"up ({in_view.station or 'a station'} sees the satellite)" if in_view else "down (no station in view)")
        while not stop:
            now_s = time.monotonic()
            dues = [d for d in (down.next_release_s(), up.next_release_s()) if d is not None]
            if visibility is not None:
                contact = visibility.contact_at(now_s)
                if contact != in_view:
                    _log_contact(visibility, now_s, in_view, contact)
                    in_view = contact
                change = visibility.next_change_s(now_s)
                if change is not None:
                    dues.append(change)
            wait_s = min([0.1, next_stats_s - now_s, *(d - now_s for d in dues)])
            for sock, _ in poller.poll(max(0, int(np.ceil(wait_s * 1000)))):
                rx, model = sockets[sock]
                while (frame := rx.recv(0)) is not None:
                    model.submit(frame.data, time.monotonic())
            now_s = time.monotonic()
            for _, model, tx in routes:
                for data in model.pop_due(now_s):
                    tx.send(data)
            if now_s >= next_stats_s:
                _log_stats("stats", down, up)
                next_stats_s = now_s + stats_interval_s
    finally:
        for ep in endpoints:
            ep.close()
        for s, h in previous.items():
            signal.signal(s, h)
    _log_stats("final stats", down, up)
    return {"down": down.stats.as_dict(), "up": up.stats.as_dict()}


class SampleLevel:
    """A direction of the channel at the sample level: the frames an :class:`Impairment` releases (its rate,
    loss and delay; no bit flips) go through modulation, an IQ channel and demodulation, sans-IO."""

    def __init__(self, timing: Impairment, radio: object, *, ebn0_db: float, codeblock_len: int,
                 offset_hz: float = 0.0, rate_hz_s: float = 0.0, seed: int | None = None) -> None:
        from ..modem import IqChannel
        from ..radio import CaduFinder, RadioConfig, RadioReceiver, RadioTransmitter

        if not isinstance(radio, RadioConfig):
            raise LocalProtocolError(LAYER, "radio", type(radio).__name__, "a protocol.radio.RadioConfig")
        if timing.ber:
            raise LocalProtocolError(LAYER, "ber", timing.ber, "0 at the sample level (give ebn0_db instead)")
        self.timing = timing
        self.radio = radio
        self.ebn0_db = ebn0_db
        self._tx = RadioTransmitter(radio)
        self._iq = IqChannel(radio.sample_rate_hz, sps=radio.sps, rng=np.random.default_rng(seed),
                             ebn0_db=radio.esn0_db(ebn0_db), offset_hz=offset_hz, rate_hz_s=rate_hz_s)
        self._rx = RadioReceiver(radio)
        self._finder = CaduFinder(codeblock_len)
        self._cadu_len = codeblock_len + 4
        self.cadus_out = 0

    @property
    def stats(self) -> ImpairmentStats:
        """The timing model's counts (frames_relayed: CADUs that came out of the receiver)."""
        return self.timing.stats

    def submit(self, frame: bytes, now_s: float) -> Scheduled | None:
        """Accept a CADU arriving at ``now_s`` (rate, loss and delay as the timing model says)."""
        return self.timing.submit(frame, now_s)

    def next_release_s(self) -> float | None:
        """When the next waiting frame is due."""
        return self.timing.next_release_s()

    def pop_due(self, now_s: float) -> list[bytes]:
        """The CADUs the receiver makes of the frames released by ``now_s`` (and of those before them)."""
        frames = self.timing.pop_due(now_s)
        self.timing.stats.frames_relayed -= len(frames)  # counted below as what the receiver found
        if not frames:
            return []
        soft = self._rx.feed(self._iq.feed(self._tx.feed(b"".join(frames))))
        found = self._finder.feed(soft)
        out = [found[i:i + self._cadu_len] for i in range(0, len(found), self._cadu_len)]
        self.cadus_out += len(out)
        self.timing.stats.frames_relayed += len(out)
        return out

    @property
    def waiting(self) -> int:
        """Frames accepted but not yet released."""
        return self.timing.waiting


def contact_edges(log_text: str) -> list[tuple[str, float]]:
    """("AOS" or "LOS", real POSIX time) of every contact edge in a channel process's log (its
    ``asctime``-stamped lines, local time): when the link really opened and closed."""
    import re

    out = []
    for line in log_text.splitlines():
        m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) channel INFO (AOS|LOS) ", line)
        if m:
            out.append((m.group(3), time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + int(m.group(2)) / 1e3))
    return out


def _log_contact(visibility: Visibility, now_s: float, before: Contact | None, after: Contact | None) -> None:
    from datetime import datetime, timezone

    when = datetime.fromtimestamp(visibility.sim_s(now_s), timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    if before is not None:
        log.info("LOS %s at %s UTC (simulated): link down", before.station or "", when)
    if after is not None:
        log.info("AOS %s at %s UTC (simulated): link up%s", after.station or "", when,
                 f" at {after.rate_bps:g} bit/s" if after.rate_bps else "")


def _log_stats(what: str, down: Impairment | SampleLevel, up: Impairment) -> None:
    for name, model in (("down", down), ("up", up)):
        s = model.stats
        log.info("%s %s: relayed %d, lost %d, dropped %d (queue full), bits flipped %d, out of view %d, waiting %d",
                 what, name, s.frames_relayed, s.frames_lost, s.frames_dropped, s.bits_flipped, s.frames_out_of_view,
                 model.waiting)


def command():  # returns a click.Command; click is imported only when the process runs
    """The ``channel`` click command (``ttc channel`` and ``python -m protocol.links.channel``)."""
    import click
    import zmq

    @click.command("channel", context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("--sc-down", default="zmq://127.0.0.1:0?bind=1", show_default=True,
                  help="CADUs from the spacecraft (receiver; connect to the spacecraft's down URL)")
    @click.option("--gs-down", default="zmq://127.0.0.1:0", show_default=True,
                  help="CADUs to the station (sender, binds)")
    @click.option("--gs-up", default="zmq://127.0.0.1:0?bind=1", show_default=True,
                  help="CLTUs from the station (receiver; connect to the station's up URL)")
    @click.option("--sc-up", default="zmq://127.0.0.1:0", show_default=True,
                  help="CLTUs to the spacecraft (sender, binds)")
    @click.option("--ber", type=click.FloatRange(0, 0.5), default=0.0, show_default=True,
                  help="bit error rate, both directions")
    @click.option("--up-ber", type=click.FloatRange(0, 0.5), default=None, help="uplink bit error rate (default --ber)")
    @click.option("--loss", type=click.FloatRange(0, 1), default=0.0, show_default=True,
                  help="probability that a frame is lost, both directions")
    @click.option("--up-loss", type=click.FloatRange(0, 1), default=None, help="uplink frame loss (default --loss)")
    @click.option("--delay-s", type=click.FloatRange(0, 3600), default=0.0, show_default=True,
                  help="one-way delay added to every frame, seconds")
    @click.option("--rate-bps", type=click.FloatRange(0), default=0.0, show_default=True,
                  help="data rate of the channel, bits/s (0: unlimited), both directions")
    @click.option("--up-rate-bps", type=click.FloatRange(0), default=None,
                  help="uplink data rate, bits/s (default --rate-bps)")
    @click.option("--queue-limit", type=click.IntRange(1, 1 << 24), default=DEFAULT_QUEUE_LIMIT, show_default=True,
                  help="frames that may wait for the channel per direction; more are dropped")
    @click.option("--sample-level", is_flag=True,
                  help="downlink at the sample level: modulate, add noise at --ebn0-db, demodulate (--ber then "
                       "applies to the uplink only)")
    @click.option("--ebn0-db", type=click.FloatRange(-5, 60), default=10.0, show_default=True,
                  help="with --sample-level: Eb/N0 of the downlink per information bit")
    @click.option("--modulation", type=click.Choice(["bpsk", "gmsk", "gfsk"]), default="bpsk", show_default=True,
                  help="with --sample-level")
    @click.option("--sps", type=click.IntRange(2, 32), default=4, show_default=True, help="with --sample-level")
    @click.option("--convolutional", type=click.Choice(["CCSDS", "NASA-DSN", "CCSDS uninverted", "NASA-DSN uninverted"]),
                  default=None, help="with --sample-level: the K=7 r=1/2 code (default: uncoded)")
    @click.option("--differential", is_flag=True, help="with --sample-level: NRZ-M precoding")
    @click.option("--freq-offset-hz", type=float, default=0.0, show_default=True, help="with --sample-level")
    @click.option("--doppler-rate-hz-s", type=float, default=0.0, show_default=True, help="with --sample-level")
    @click.option("--codeblock-len", type=click.IntRange(8, 65536), default=1020, show_default=True,
                  help="with --sample-level: octets after each ASM (RS I=4: 1020)")
    @click.option("--contacts", "contacts_file", type=click.Path(dir_okay=False, exists=True), default=None,
                  help="carry frames only inside these contact windows (ttc passes --format json)")
    @click.option("--sim-start", default=None,
                  help="with --contacts: the simulated UTC at start, ISO 8601 (the spacecraft's --start-utc) [now]")
    @click.option("--speed", type=click.FloatRange(1e-3, 1e6), default=1.0, show_default=True,
                  help="with --contacts: simulated seconds per second (the spacecraft's --speed)")
    @click.option("--sim-anchor", type=float, default=None,
                  help="with --sim-start: the real UNIX time at which the simulated clock read --sim-start (the "
                       "spacecraft's --clock-anchor) [the channel's start]")
    @click.option("--link-budget", "link_budget", default=None, metavar="EBN0_DB@RANGE_KM",
                  help="with --contacts carrying geometry (ttc plan): bit errors from free-space path loss, Eb/N0 "
                       "EBN0_DB at RANGE_KM falling 20 dB a decade of range (BPSK, both directions)")
    @click.option("--seed", type=int, default=None, help="seed of the bit errors and losses (default: random)")
    @click.option("--stats-interval-s", type=click.FloatRange(0.1), default=STATS_INTERVAL_S, show_default=True,
                  help="how often the counters are logged")
    def channel(sc_down: str, gs_down: str, gs_up: str, sc_up: str, ber: float, up_ber: float | None, loss: float,
                up_loss: float | None, delay_s: float, rate_bps: float, up_rate_bps: float | None,
                queue_limit: int, sample_level: bool, ebn0_db: float, modulation: str, sps: int,
                convolutional: str | None, differential: bool, freq_offset_hz: float, doppler_rate_hz_s: float,
                codeblock_len: int, contacts_file: str | None, sim_start: str | None, speed: float,
                sim_anchor: float | None, link_budget: str | None, seed: int | None,
                stats_interval_s: float) -> None:
        """Relay CADUs down and CLTUs up between spacecraft and station with bit errors, loss, delay and a rate limit."""
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s channel %(levelname)s %(message)s")
        seeds = np.random.SeedSequence(seed).spawn(2)
        down_seed = int(seeds[0].generate_state(1)[0])
        down = Impairment(ber=0.0 if sample_level else ber, loss=loss, delay_s=delay_s, rate_bps=rate_bps,
                          queue_limit=queue_limit, seed=down_seed)
        if sample_level:
            from ..radio import RadioConfig

            radio = RadioConfig(modulation=modulation, sps=sps, rate_bd=max(rate_bps, 9600.0) / (
                0.5 if convolutional else 1.0), convolutional=convolutional, differential=differential)
            down = SampleLevel(down, radio, ebn0_db=ebn0_db, codeblock_len=codeblock_len, offset_hz=freq_offset_hz,
                               rate_hz_s=doppler_rate_hz_s, seed=down_seed + 1)
            log.info("downlink at the sample level: %s at %g Bd, %d samples/symbol, Eb/N0 %g dB%s%s",
                     modulation, radio.rate_bd, sps, ebn0_db, f", {convolutional} code" if convolutional else "",
                     ", NRZ-M" if differential else "")
        up = Impairment(ber=ber if up_ber is None else up_ber, loss=loss if up_loss is None else up_loss,
                        delay_s=delay_s, rate_bps=rate_bps if up_rate_bps is None else up_rate_bps,
                        queue_limit=queue_limit, seed=int(seeds[1].generate_state(1)[0]))
        try:
            visibility = None
            if contacts_file is not None:
                start_s = time.time() if sim_start is None else _utc_s(sim_start, "--sim-start")
                if sim_anchor is not None and sim_start is not None:
                    start_s += (time.time() - sim_anchor) * speed
                with open(contacts_file, encoding="utf-8") as f:
                    visibility = Visibility.from_json(f.read(), source=contacts_file, sim_start_s=start_s,
                                                      speed=speed, t0_s=time.monotonic())
            budget = None
            if link_budget is not None:
                if visibility is None:
                    raise LocalProtocolError(LAYER, "--link-budget", link_budget, "used with --contacts")
                budget = LinkBudget.parse(link_budget)
            run(sc_down=sc_down, gs_down=gs_down, gs_up=gs_up, sc_up=sc_up, down=down, up=up,
                stats_interval_s=stats_interval_s, visibility=visibility, budget=budget)
        except (ProtocolError, zmq.ZMQError, OSError) as e:  # a bad URL or a port in use: one line, no traceback
            raise click.ClickException(f"channel: {e}") from e

    return channel


def main() -> None:
    """Entry point of ``python -m protocol.links.channel``."""
    command()(prog_name="python -m protocol.links.channel")


if __name__ == "__main__":
    main()
