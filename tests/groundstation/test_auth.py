"""Who may talk to the station: CURVE on the API and the live stream, the key directory, ``ttc keys``.

The station is a real process (``python -m groundstation.station --keys DIR``) on loopback ports picked by the
system; clients are :class:`StationClient` and raw ZeroMQ sockets, with and without keys. A refused CURVE
handshake gets no reply at all, so "refused" is checked as "no answer within a bound, while an authorised
client on the same station is answered" -- and StationClient's own report of it (the socket monitor).
"""

from __future__ import annotations

import contextlib

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from click.testing import CliRunner

from groundstation.cli import main as ttc_main
from groundstation.client import AuthenticationFailed, StationClient
from groundstation.keys import (
    AUTHORIZED_DIR,
    KeysError,
    authorized_clients,
    client_keypair,
    ensure_keys,
    fingerprint,
    new_client,
    station_keypair,
)
from groundstation.station import main as station_main

from ..e2e_tools import REPO, curve_client
from .fake_spacecraft import FakeSpacecraft, StationProcess

pytestmark = pytest.mark.slow



def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class Guarded:
    """A station with its own key directory, its fake spacecraft, and an authorised client."""

    def __init__(self, tmp: Path, *, extra: tuple[str, ...] = ()) -> None:
        self.keys = tmp / "station-keys"
        self.sc = FakeSpacecraft()
        self.station = StationProcess(down_url=self.sc.down_url, archive=tmp / "station.db",
                                      log_path=tmp / "station.log", extra=("--keys", str(self.keys), *extra))
        self.ep = self.station.endpoints
        self.sc.start(self.ep["up"])
        self.gs = StationClient(self.ep["api"], self.ep["events"], keys_dir=self.keys)

    def client(self, keys_dir: Path, **kw: object) -> StationClient:
        return StationClient(self.ep["api"], self.ep["events"], keys_dir=keys_dir, **kw)  # type: ignore[arg-type]

    def close(self) -> None:
        self.gs.close()
        code = self.station.terminate()
        self.sc.stop()
        assert code == 0, self.station.log_path.read_text()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    g = Guarded(tmp_path_factory.mktemp("auth"))
    try:
        yield g
    finally:
        g.close()


@pytest.fixture
def outsider(tmp_path: Path, guarded: Guarded) -> Path:
    """A complete client key directory (the station's public key included) whose key the station does not hold."""
    out = tmp_path / "outsider"
    new_client(guarded.keys, "outsider", out)
    (guarded.keys / AUTHORIZED_DIR / "outsider.key").unlink()  # made for the station, then revoked
    return out


# ====================================================================== the station's side

def test_the_station_made_its_keys_at_first_start_and_publishes_its_public_key(guarded: Guarded) -> None:
    assert _mode(guarded.keys) == 0o700 and _mode(guarded.keys / AUTHORIZED_DIR) == 0o700
    assert _mode(guarded.keys / "station.key_secret") == 0o600 and _mode(guarded.keys / "client.key_secret") == 0o600
    assert guarded.ep["station_key"] == station_keypair(guarded.keys).public.decode()
    own = client_keypair(guarded.keys).public
    assert authorized_clients(guarded.keys) == {own: "client"}


def test_the_authorised_client_is_served_ping_and_a_command(guarded: Guarded) -> None:
    gs = guarded.gs
    assert gs.ping()["endpoints"]["station_key"] == guarded.ep["station_key"]
    stages = gs.wait(gs.send("PING"), "completed", timeout_s=15)
    assert [s["stage"] for s in stages if s["of"] in ("station", "tc")][:2] == ["queued", "sent"]
    assert stages[-1]["stage"] == "completed" and stages[-1]["ok"]


def test_a_client_without_curve_gets_no_answer_and_the_station_keeps_serving(guarded: Guarded) -> None:
    ctx = zmq.Context.instance()
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(guarded.ep["api"])
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(guarded.ep["api"])
    try:
        # libzmq may already have dropped the refused connection, and then has nowhere to queue: Again
        with contextlib.suppress(zmq.Again):
            dealer.send_multipart([b"", b'{"id": 1, "op": "send", "name": "PING"}'], zmq.NOBLOCK)
        with contextlib.suppress(zmq.Again):
            req.send(b'{"id": 2, "op": "ping"}', zmq.NOBLOCK)
        before = guarded.gs.counters()["station"]["api_requests"]
        assert guarded.gs.ping()["station"] == "ttc"  # answered while the other two wait
        assert dealer.poll(1000) == 0 and req.poll(100) == 0
        # nothing of theirs reached the station's loop: only our own two requests are counted
        assert guarded.gs.counters()["station"]["api_requests"] == before + 2
    finally:
        dealer.close()
        req.close()
    # the message comes from the handshake's refusal (a timeout says something else): no clock needed
    with pytest.raises(AuthenticationFailed, match="requires CURVE"):
        guarded.client(guarded.keys, insecure=True, timeout_s=10).ping()


def test_a_curve_client_whose_key_is_not_authorised_is_refused_at_once(guarded: Guarded, outsider: Path) -> None:
    raw = curve_client(zmq.Context.instance().socket(zmq.DEALER), outsider)
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(guarded.ep["api"])
    raw.send_multipart([b"", b'{"id": 1, "op": "ping"}'])
    try:
        assert guarded.gs.ping()["station"] == "ttc"
        assert raw.poll(1000) == 0
    finally:
        raw.close()
    key = client_keypair(outsider).public
    with guarded.client(outsider, timeout_s=10) as gs:
        with pytest.raises(AuthenticationFailed) as info:
            gs.ping()
    said = str(info.value)
    assert "authentication failed" in said and fingerprint(key) in said and "ttc keys add-client" in said
    assert guarded.gs.ping()["station"] == "ttc"


def test_authorising_a_client_needs_no_restart(guarded: Guarded, outsider: Path) -> None:
    with guarded.client(outsider, timeout_s=2) as gs:
        with pytest.raises(AuthenticationFailed):
            gs.ping()
        res = CliRunner().invoke(ttc_main, ["keys", "add-client", "latecomer", str(outsider / "client.key"),
                                            "--dir", str(guarded.keys)])
        assert res.exit_code == 0, res.output
        assert gs.ping()["station"] == "ttc"  # a fresh connection, the new authorised_clients/ read
    (guarded.keys / AUTHORIZED_DIR / "latecomer.key").unlink()


def test_the_live_stream_reaches_only_the_authorised_subscriber(guarded: Guarded, outsider: Path) -> None:
    ctx = zmq.Context.instance()
    bare = ctx.socket(zmq.SUB)
    stranger = curve_client(ctx.socket(zmq.SUB), outsider)
    for sub in (bare, stranger):
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(guarded.ep["events"])
    try:
        with guarded.client(guarded.keys) as gs:
            gs.subscribe("counters")  # subscribed when called
            got = [gs.next_message(timeout_s=5) for _ in range(3)]
            assert all(m is not None and m.topic == "counters" for m in got)  # published every second
        assert bare.poll(0) == 0 and stranger.poll(0) == 0
    finally:
        bare.close()
        stranger.close()
    with guarded.client(outsider) as gs:
        with pytest.raises(AuthenticationFailed):
            for _ in gs.subscribe("counters", timeout_s=5):
                pytest.fail("a refused subscriber received a message")


def test_a_client_with_another_stations_public_key_is_told_so(guarded: Guarded, tmp_path: Path) -> None:
    elsewhere = ensure_keys(tmp_path / "elsewhere")  # its station.key is not the guarded station's
    with guarded.client(elsewhere, timeout_s=1.5) as gs, pytest.raises(AuthenticationFailed, match="station.key"):
        gs.ping()


def test_a_client_without_keys_says_how_to_make_them(guarded: Guarded, tmp_path: Path) -> None:
    with guarded.client(tmp_path / "nothing") as gs, pytest.raises(AuthenticationFailed) as info:
        gs.ping()
    assert "keys missing" in str(info.value) and "ttc keys init" in str(info.value)
    env = dict(os.environ, TTC_KEYS=str(tmp_path / "nothing"))
    out = subprocess.run([sys.executable, "-m", "groundstation.cli", "history", "--api", guarded.ep["api"],
                          "--events", guarded.ep["events"]], capture_output=True, text=True, timeout=30, env=env,
                         cwd=REPO)
    assert out.returncode == 4 and "keys missing" in out.stderr and "Traceback" not in out.stderr


# ====================================================================== modes

def test_the_key_directory_is_created_private_and_kept(tmp_path: Path) -> None:
    path = ensure_keys(tmp_path / "a" / "keys")
    assert _mode(path) == 0o700 and _mode(path / AUTHORIZED_DIR) == 0o700
    for name in ("station", "client"):
        assert _mode(path / f"{name}.key_secret") == 0o600
        assert (path / f"{name}.key").is_file()
    before = (station_keypair(path), client_keypair(path))
    ensure_keys(path)
    assert (station_keypair(path), client_keypair(path)) == before  # never regenerated


def test_a_readable_key_directory_or_secret_is_refused_naming_path_and_mode(tmp_path: Path) -> None:
    path = ensure_keys(tmp_path / "keys")
    path.chmod(0o755)
    with pytest.raises(KeysError, match=rf"{path} has mode 0755.*chmod 700"):
        ensure_keys(path)
    with pytest.raises(KeysError, match="0755"):
        client_keypair(path)
    path.chmod(0o700)
    (path / "client.key_secret").chmod(0o644)
    with pytest.raises(KeysError, match=r"client.key_secret has mode 0644.*chmod 600"):
        client_keypair(path)


def test_the_station_refuses_to_start_on_a_readable_key_directory(tmp_path: Path) -> None:
    path = ensure_keys(tmp_path / "keys")
    path.chmod(0o750)
    out = subprocess.run([sys.executable, "-m", "groundstation.station", "--down", "zmq://127.0.0.1:9",
                          "--archive", str(tmp_path / "gs.db"), "--api", "tcp://127.0.0.1:0",
                          "--events", "tcp://127.0.0.1:0", "--keys", str(path)],
                         capture_output=True, text=True, timeout=30, cwd=REPO)
    assert out.returncode == 1 and "READY" not in out.stdout, out.stderr
    assert f"{path} has mode 0750" in out.stderr and "Traceback" not in out.stderr


# ====================================================================== --allow-remote, --insecure

@pytest.mark.parametrize("args, said", [
    (["--api", "tcp://0.0.0.0:0"], "--api tcp://0.0.0.0:0"),
    (["--events", "tcp://0.0.0.0:5571"], "--events tcp://0.0.0.0:5571"),
    (["--api", "tcp://192.0.2.1:0", "--insecure"], "tcp://192.0.2.1:0"),
    (["--api", "tcp://0.0.0.0:0", "--insecure", "--allow-remote"], "--insecure"),
])
def test_a_reachable_endpoint_needs_allow_remote_and_curve(args: list[str], said: str) -> None:
    res = CliRunner().invoke(station_main, ["--down", "zmq://127.0.0.1:9", *args])
    assert res.exit_code == 2, res.output
    assert said in res.output and ("--allow-remote" in res.output or "--insecure" in res.output)
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_an_insecure_station_on_loopback_warns_and_serves_clients_without_keys(tmp_path: Path) -> None:
    sc = FakeSpacecraft()
    station = StationProcess(down_url=sc.down_url, archive=tmp_path / "gs.db", log_path=tmp_path / "gs.log",
                             extra=("--insecure", "--keys", str(tmp_path / "unused")))
    try:
        assert "station_key" not in station.endpoints and not (tmp_path / "unused").exists()
        with StationClient(station.endpoints["api"], station.endpoints["events"], insecure=True) as gs:
            assert gs.ping()["station"] == "ttc"
        with StationClient(station.endpoints["api"], station.endpoints["events"], timeout_s=10) as gs, \
                pytest.raises(AuthenticationFailed, match="--insecure"):
            gs.ping()
    finally:
        assert station.terminate() == 0
        sc.stop()
    assert "--insecure: no CURVE" in station.log_path.read_text()


# ====================================================================== ttc keys

def _ttc(*args: str) -> str:
    res = CliRunner().invoke(ttc_main, list(args))
    assert res.exit_code == 0, res.output
    return res.output


def _ttc_fails(*args: str) -> str:
    res = CliRunner().invoke(ttc_main, list(args))
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res.output


def test_ttc_keys_init_show_new_client_add_client(tmp_path: Path) -> None:
    home = tmp_path / "keys"
    first = _ttc("keys", "init", "--dir", str(home))
    station, client = station_keypair(home), client_keypair(home)
    assert "created" in first and station.fingerprint in first and client.fingerprint in first
    assert str(home / "station.key") in first
    again = _ttc("keys", "init", "--dir", str(home))
    assert "created" not in again and "kept" in again and station_keypair(home) == station

    shown = _ttc("keys", "show", "--dir", str(home))
    assert station.public.decode() in shown and client.public.decode() in shown and "client " in shown

    # a second operator machine: its keys made here, with the station's public key, and authorised
    other = tmp_path / "ops2"
    made = _ttc("keys", "new-client", "ops2", "-o", str(other), "--dir", str(home))
    ops2 = client_keypair(other)
    assert ops2.fingerprint in made and _mode(other) == 0o700 and _mode(other / "client.key_secret") == 0o600
    assert (other / "station.key").read_text().count(station.public.decode()) == 1
    assert authorized_clients(home)[ops2.public] == "ops2"
    assert "ops2" in _ttc("keys", "show", "--dir", str(home))

    # another operator's own key, by file and by Z85 text
    third = ensure_keys(tmp_path / "ops3")
    _ttc("keys", "add-client", "ops3", str(third / "client.key"), "--dir", str(home))
    assert "already authorised" in _ttc("keys", "add-client", "ops3", str(third / "client.key"), "--dir", str(home))
    fourth = ensure_keys(tmp_path / "ops4")
    z85 = client_keypair(fourth).public.decode()
    _ttc("keys", "add-client", "ops4", z85, "--dir", str(home))
    assert set(authorized_clients(home).values()) == {"client", "ops2", "ops3", "ops4"}

    # refusals are messages, never tracebacks
    assert "neither a key file nor a Z85" in _ttc_fails("keys", "add-client", "x", "not-a-key", "--dir", str(home))
    assert "already holds another key" in _ttc_fails("keys", "add-client", "ops3", z85, "--dir", str(home))
    assert "already authorised as" in _ttc_fails("keys", "add-client", "again", z85, "--dir", str(home))
    assert "client name" in _ttc_fails("keys", "add-client", "../evil", z85, "--dir", str(home))
    assert "already holds a client key" in _ttc_fails("keys", "new-client", "y", "-o", str(other), "--dir", str(home))
    assert "no key directory" in _ttc_fails("keys", "show", "--dir", str(tmp_path / "none"))
    home.chmod(0o755)
    assert "has mode 0755" in _ttc_fails("keys", "init", "--dir", str(home))
    home.chmod(0o700)


def test_ttc_keys_reads_ttc_keys_from_the_environment(station_keys: Path) -> None:
    """The session's key directory is $TTC_KEYS (conftest): `ttc keys show` finds it without --dir."""
    shown = _ttc("keys", "show")
    assert str(station_keys) in shown and station_keypair(station_keys).public.decode() in shown


def test_ready_line_of_a_default_station_carries_its_key(tmp_path: Path, station_keys: Path) -> None:
    """Without --keys the station uses $TTC_KEYS (the session's directory), as its clients do."""
    sc = FakeSpacecraft()
    station = StationProcess(down_url=sc.down_url, archive=tmp_path / "gs.db", log_path=tmp_path / "gs.log")
    try:
        assert station.endpoints["station_key"] == station_keypair(station_keys).public.decode()
        with StationClient(station.endpoints["api"], station.endpoints["events"]) as gs:
            assert json.dumps(gs.ping()["endpoints"])
    finally:
        assert station.terminate() == 0
        sc.stop()
