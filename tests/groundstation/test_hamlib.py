"""groundstation.hamlib against hamlib's real rotctld and rigctld (dummy models), and a loopback server that lies."""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from groundstation.hamlib import (
    Command,
    GarbledReply,
    HamlibError,
    HamlibUnavailable,
    LineSplitter,
    ProtocolViolation,
    Radio,
    Reply,
    ReplyParser,
    Rotator,
)
from tests.hamlib_daemons import HOST, free_port, restart_daemon, rigctld, rotctld, stop_daemon

ARRIVE_S = 5.0  # the dummy rotator slews at about 6 deg/s: the small moves here take about a second
CLOSE_DEG = 0.05


def wait_arrived(rotator: Rotator, az_deg: float, el_deg: float, *, timeout_s: float = ARRIVE_S) -> None:
    """Poll the rotator's position until it is at (az_deg, el_deg); fail at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        position = rotator.position()
        if math.dist(position, (az_deg, el_deg)) < CLOSE_DEG:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"rotator at {position}, not ({az_deg}, {el_deg}), after {timeout_s} s")
        time.sleep(0.05)  # the dummy's motion is continuous: this only spaces out the polls


def raw_reply(port: int, line: bytes) -> bytes:
    """Send one extended-protocol command on a connection of our own and return its reply up to RPRT."""
    with socket.create_connection((HOST, port), timeout=2.0) as conn:
        conn.sendall(line)
        reply = b""
        while b"RPRT" not in reply or not reply.endswith(b"\n"):
            data = conn.recv(4096)
            if not data:
                break
            reply += data
        return reply


# -- the protocol pieces, without sockets ------------------------------------------------------------------------

GET_POS = Command("p", "get_pos")
GET_POS_REPLY = b"get_pos:\nAzimuth: 12.50\nElevation: -0.25\nRPRT 0\n"


def parse_stream(command: Command, chunks: list[bytes]) -> Reply:
    """Feed chunks through a LineSplitter and a ReplyParser; the reply once complete."""
    lines = LineSplitter()
    parser = ReplyParser(command)
    for chunk in chunks:
        lines.receive_data(chunk)
        while (line := lines.next_line()) is not None:
            if (reply := parser.feed_line(line)) is not None:
                return reply
    pytest.fail("the reply never completed")


def test_reply_parsed_one_octet_at_a_time_and_split_at_every_index() -> None:
    expected = Reply(header="get_pos:", records=(("Azimuth", "12.50"), ("Elevation", "-0.25")), code=0)
    assert parse_stream(GET_POS, [GET_POS_REPLY[i:i + 1] for i in range(len(GET_POS_REPLY))]) == expected
    for cut in range(1, len(GET_POS_REPLY)):
        assert parse_stream(GET_POS, [GET_POS_REPLY[:cut], GET_POS_REPLY[cut:]]) == expected


def test_command_wire_form_and_echo() -> None:
    command = Command("P", "set_pos", ("10.000000", "5.000000"))
    assert command.wire == b"+P 10.000000 5.000000\n"
    assert command.header == "set_pos: 10.000000 5.000000"
    assert Command("S", "stop").header == "stop:"


def test_an_error_acknowledged_without_echo_is_a_reply() -> None:
    assert ReplyParser(GET_POS).feed_line("RPRT -11") == Reply(header=None, records=(), code=-11)


@pytest.mark.parametrize("lines", [["hello"], ["get_pos:", "RPRT zero"], ["get_pos:", "no colon here"],
                                   ["set_pos: 1 2"], ["RPRT 0"]])
def test_parser_refuses_what_is_not_the_protocol(lines: list[str]) -> None:
    parser = ReplyParser(GET_POS)
    with pytest.raises(ProtocolViolation):
        for line in lines:
            parser.feed_line(line)


def test_line_splitter_is_bounded() -> None:
    lines = LineSplitter(max_line_bytes=16)
    lines.receive_data(b"x" * 17)
    with pytest.raises(ProtocolViolation, match="longer than 16 bytes"):
        lines.next_line()


# -- rotctld -------------------------------------------------------------------------------------------------

@pytest.fixture
def rotator() -> Iterator[Rotator]:
    """A Rotator connected to a fresh dummy rotctld."""
    with rotctld() as (host, port, _), Rotator(host, port, timeout_s=2.0, reconnect_s=2.0) as client:
        yield client


def test_position_set_and_read_back(rotator: Rotator) -> None:
    assert rotator.position() == (0.0, 0.0)
    rotator.set_position(6.0, 3.0)
    wait_arrived(rotator, 6.0, 3.0)
    rotator.set_position(2.5, 4.5)
    wait_arrived(rotator, 2.5, 4.5)
    assert rotator.counters["errors"] == 0 and rotator.counters["reconnects"] == 0


def test_position_out_of_range_is_refused_with_its_code(rotator: Rotator) -> None:
    with pytest.raises(HamlibError) as caught:
        rotator.set_position(500.0, 10.0)
    error = caught.value
    assert error.code == -1
    assert error.command == "P 500.000000 10.000000"
    assert error.daemon == "rotctld" and error.address == rotator.address
    assert "P 500.000000 10.000000" in str(error) and "max_az" in str(error)  # names the command and the fix
    assert not isinstance(error, HamlibUnavailable)
    assert rotator.counters["errors"] == 1
    assert rotator.position() == (0.0, 0.0)  # the connection is still in step


def test_elevation_above_90_is_refused_by_default_and_accepted_with_max_el_180() -> None:
    with rotctld() as (host, port, _), Rotator(host, port) as default:
        with pytest.raises(HamlibError) as caught:
            default.set_position(10.0, 100.0)
        assert caught.value.code == -1
    with rotctld(extra=("--set-conf=max_el=180",)) as (host, port, _), Rotator(host, port) as flip:
        flip.set_position(10.0, 180.0)  # flip mode: the dummy accepts up to max_el
        with pytest.raises(HamlibError):
            flip.set_position(10.0, 180.5)


def test_stop_holds_the_rotator_where_it_is(rotator: Rotator) -> None:
    rotator.set_position(30.0, 20.0)
    deadline = time.monotonic() + ARRIVE_S
    while rotator.position()[0] < 1.0:  # wait until it is visibly moving
        assert time.monotonic() < deadline, "the dummy rotator never started moving"
        time.sleep(0.02)
    rotator.stop()
    stopped = rotator.position()
    time.sleep(0.3)  # at 6 deg/s a moving dummy would cover about 2 degrees in this time
    assert rotator.position() == stopped
    assert 0.0 < stopped[0] < 30.0


def test_park_returns_to_zero_and_info(rotator: Rotator) -> None:
    rotator.set_position(4.0, 2.0)
    wait_arrived(rotator, 4.0, 2.0)
    rotator.park()
    wait_arrived(rotator, 0.0, 0.0)  # the dummy's park position
    assert rotator.info() == "Dummy rotator"


# -- rigctld -------------------------------------------------------------------------------------------------

def test_downlink_and_uplink_frequencies_exactly() -> None:
    with rigctld() as (host, port, _), Radio(host, port) as radio:
        radio.set_frequency_hz(145_800_000)
        assert radio.frequency_hz() == 145_800_000
        radio.set_tx_frequency_hz(435_123_457)
        assert radio.tx_frequency_hz() == 435_123_457
        assert radio.frequency_hz() == 145_800_000  # the uplink went to the other VFO
        radio.set_frequency_hz(145_799_999)
        assert (radio.frequency_hz(), radio.tx_frequency_hz()) == (145_799_999, 435_123_457)
        assert b"Split: 1\nTX VFO: VFOB\n" in raw_reply(port, b"+s\n")
        assert radio.info() == "Nothing much (dummy)"
        assert radio.counters == {"commands": 10, "errors": 0, "reconnects": 0, "failures": 0}  # 9 + S 1 VFOB


def test_radio_refuses_rigctld_in_vfo_mode() -> None:
    with rigctld(extra=("--vfo",)) as (host, port, _):
        with pytest.raises(HamlibError, match="VFO mode.*without -o"):
            Radio(host, port)


# -- reconnection --------------------------------------------------------------------------------------------

def test_rotctld_restarted_mid_session() -> None:
    seen: list[str] = []
    with rotctld() as (host, port, process):
        with Rotator(host, port, timeout_s=1.0, reconnect_s=3.0, on_event=seen.append) as rotator:
            assert rotator.info() == "Dummy rotator"
            restart_daemon(process)
            rotator.set_position(3.0, 1.5)  # the first call after the restart goes through
            wait_arrived(rotator, 3.0, 1.5)
            assert rotator.counters["reconnects"] == 1
            assert rotator.counters["failures"] == 0
            assert len(rotator.events) == 1 and seen == [rotator.events[0][1]]
            stamp, text = rotator.events[0]
            assert abs(stamp - time.time()) < 60
            assert text.startswith(f"rotctld {host}:{port}: connection lost (") and "reconnected after" in text


def test_rigctld_restarted_mid_session_gets_split_again() -> None:
    with rigctld() as (host, port, process), Radio(host, port, timeout_s=1.0, reconnect_s=3.0) as radio:
        radio.set_tx_frequency_hz(435_000_000)
        restarted = restart_daemon(process)
        assert b"Split: 0\n" in raw_reply(port, b"+s\n")  # a restarted rigctld has forgotten split
        radio.set_tx_frequency_hz(435_000_123)
        assert b"Split: 1\nTX VFO: VFOB\n" in raw_reply(port, b"+s\n")  # replayed on the new connection
        assert radio.tx_frequency_hz() == 435_000_123
        assert radio.counters["reconnects"] == 1
        assert restarted.poll() is None


def test_daemon_gone_raises_unavailable_within_the_bound() -> None:
    seen: list[str] = []
    with rotctld() as (host, port, process):
        rotator = Rotator(host, port, timeout_s=1.0, reconnect_s=1.0, on_event=seen.append)
        assert rotator.info() == "Dummy rotator"
        stop_daemon(process, kill=True)
        started = time.monotonic()
        with pytest.raises(HamlibUnavailable) as caught:
            rotator.position()
        assert time.monotonic() - started < 1.0 + 1.0  # reconnect_s, plus slack; never a hang
        message = str(caught.value)
        assert f"{host}:{port}" in message and "is rotctld running? (rotctld -m MODEL -t" in message
        assert caught.value.command == "p"
        assert rotator.counters["failures"] == 1 and rotator.counters["reconnects"] == 0
        assert "could not reconnect within 1 s" in seen[-1]
        rotator.close()


def test_nothing_listening_at_construction() -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(HamlibUnavailable, match=f"{HOST}:{port}.*is rigctld running\\? \\(rigctld -m MODEL"):
        Radio(HOST, port, reconnect_s=0.3)
    assert time.monotonic() - started < 1.5


# -- a loopback server that answers garbage ------------------------------------------------------------------

@contextmanager
def fake_daemon(answer: Callable[[bytes], bytes | None]) -> Iterator[tuple[int, list[bytes]]]:
    """A loopback server answering each received line with answer(line) (None: stay silent); yields its port
    and the lines it received."""
    listener = socket.create_server((HOST, 0))
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    received: list[bytes] = []
    stopping = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.1)
            buffer = b""
            while not stopping.is_set():
                try:
                    data = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                buffer += data
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    received.append(line)
                    reply = answer(line)
                    if reply is not None:
                        conn.sendall(reply)

    def accept() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()  # the listener already listens: a client may connect at once
    try:
        yield port, received
    finally:
        stopping.set()
        acceptor.join(timeout=2.0)
        listener.close()


@pytest.mark.parametrize("garbage", [
    b"hello world\n",
    b"get_pos:\nAzimuth: banana\nElevation: 1.0\nRPRT 0\n",
    b"get_pos:\nAzimuth: nan\nElevation: 1.0\nRPRT 0\n",
    b"get_pos:\nAzimuth: 1.0\nRPRT 0\n",
    b"get_pos:\nAzimuth: 1.0\nElevation: 2.0\nRPRT 0 and more\n",
    b"get_pos:\n\xff\xfe\n",
    b"get_pos:\n" + b"9" * 5000,
], ids=["not-the-protocol", "not-a-number", "nan", "missing-value", "bad-rprt", "not-ascii",
        "endless-line"])
def test_garbage_is_a_hamlib_error_not_a_value_error(garbage: bytes) -> None:
    with fake_daemon(lambda line: garbage) as (port, _), Rotator(HOST, port, timeout_s=1.0) as rotator:
        started = time.monotonic()
        with pytest.raises(HamlibError) as caught:
            rotator.position()
        assert time.monotonic() - started < 1.0  # refused as it arrives, not at the timeout
    error = caught.value
    assert isinstance(error, GarbledReply) and not isinstance(error, ValueError)
    assert error.command == "p" and "'p'" in str(error) and error.reply
    assert rotator.counters["errors"] == 1
    assert "garbled reply to 'p'" in rotator.events[-1][1]


def test_garbled_connection_is_dropped_and_the_next_command_reconnects() -> None:
    replies = iter([b"nonsense\n", b"get_info:\nInfo: Fake rotator\nRPRT 0\n"])
    with fake_daemon(lambda line: next(replies)) as (port, _), Rotator(HOST, port) as rotator:
        with pytest.raises(GarbledReply):
            rotator.info()
        assert rotator.info() == "Fake rotator"
        assert rotator.counters == {"commands": 2, "errors": 1, "reconnects": 1, "failures": 0}


def test_silent_daemon_times_out_reconnects_once_then_gives_up() -> None:
    with fake_daemon(lambda line: None) as (port, received), \
            Rotator(HOST, port, timeout_s=0.3, reconnect_s=0.5) as rotator:
        started = time.monotonic()
        with pytest.raises(HamlibUnavailable, match="no complete reply within 0.3 s"):
            rotator.stop()
        assert time.monotonic() - started < 0.3 + 0.5 + 0.3 + 0.5  # two reads, one reconnection, slack
        assert received == [b"+S", b"+S"]  # sent, then resent once
        assert rotator.counters == {"commands": 1, "errors": 0, "reconnects": 1, "failures": 1}


# -- values refused before sending ---------------------------------------------------------------------------

@pytest.mark.parametrize(("az_deg", "el_deg"), [(math.nan, 10.0), (10.0, math.inf), (-math.inf, math.nan)])
def test_non_finite_positions_are_refused_before_sending(az_deg: float, el_deg: float) -> None:
    with fake_daemon(lambda line: b"RPRT 0\n") as (port, received), Rotator(HOST, port) as rotator:
        with pytest.raises(ValueError, match="must be finite"):
            rotator.set_position(az_deg, el_deg)
        assert rotator.counters["commands"] == 0
    assert received == []


@pytest.mark.parametrize(("freq_hz", "error"), [(math.nan, ValueError), (math.inf, ValueError),
                                                (145.8e6, TypeError), (True, TypeError), ("145800000", TypeError),
                                                (0, ValueError), (-145_800_000, ValueError)])
def test_bad_frequencies_are_refused_before_sending(freq_hz: object, error: type[Exception]) -> None:
    with fake_daemon(lambda line: b"0\n" if line == b"\\chk_vfo" else b"RPRT 0\n") as (port, received), \
            Radio(HOST, port) as radio:
        with pytest.raises(error):
            radio.set_frequency_hz(freq_hz)  # type: ignore[arg-type]
        with pytest.raises(error):
            radio.set_tx_frequency_hz(freq_hz)  # type: ignore[arg-type]
        assert radio.counters["commands"] == 0
    assert received == [b"\\chk_vfo"]  # only the connection's VFO-mode check
