"""CURVE keys of the station API and live stream: the key directory, its files and ``ttc keys``.

A key directory (``$TTC_KEYS``, default ``~/.config/ttc/keys``; mode 0700) holds
ZeroMQ certificates, the format :func:`zmq.auth.load_certificate` reads (Z85 keys)::

    station.key_secret     the station's key pair (0600): the station reads it
    station.key            the station's public key: clients read it (their CURVE server key)
    client.key_secret      this machine's operator key pair (0600): StationClient reads it
    client.key             its public key
    authorized_clients/    NAME.key: public keys of the clients the station accepts

The choices made here, each with its reason (docs/threat-model.md says what they protect):

* Nothing in it may be reachable by group or others: a directory or secret file
  with any such mode bit, or owned by another user, is refused, naming the path,
  its mode and the ``chmod`` that fixes it (ssh's rule). Whoever reads a secret
  is that station or that operator.
* Files are created, never overwritten: each is written under a temporary name
  and linked into place, which fails when the name exists. Two stations starting
  on an empty directory end with one key pair, not with a public key that does
  not match the secret beside it.
* The station re-reads ``authorized_clients/`` at every CURVE handshake (one per
  connection, so rare): authorising or revoking a client needs no restart.
* Each station's sockets carry a ZAP domain and enforce it: should the
  authenticator be missing, libzmq refuses every client instead of admitting any.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import click
import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

__all__ = ["KeysError", "KeyPair", "KEYS_ENV", "AUTHORIZED_DIR", "default_keys_dir", "ensure_keys",
           "station_keypair", "client_keypair", "station_public_key", "client_credentials", "authorized_clients",
           "authorize_client", "new_client", "parse_public_key", "fingerprint", "serve_curve", "local_endpoint",
           "keys"]

log = logging.getLogger("groundstation.keys")

KEYS_ENV = "TTC_KEYS"
AUTHORIZED_DIR = "authorized_clients"
STATION, CLIENT = "station", "client"
ZAP_DOMAIN = "ttc"
PRIVATE_BITS = 0o077  # any access by group or others
Z85_KEY_CHARS = 40  # a 32-octet CURVE key in Z85
CLIENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
REFUSAL_LOG_INTERVAL_S = 60.0  # a refused client retries every 100 ms: one log line a minute per key is enough

_SECRET_BANNER = """#   ****  Generated on {now} by ttc  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

"""
_PUBLIC_BANNER = """#   ****  Generated on {now} by ttc  ****
#   ZeroMQ CURVE Public Certificate
#   Not secret, but check its fingerprint (`ttc keys show`) after copying it
#   to another machine.

"""


class KeysError(Exception):
    """A key directory or file that cannot be used (missing, unsafe mode, not a certificate); names path and fix."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A CURVE key pair (Z85, 40 octets each) and the secret certificate it was read from."""

    public: bytes
    secret: bytes
    path: Path

    @property
    def fingerprint(self) -> str:
        """The public key's fingerprint (what ``ttc keys`` prints)."""
        return fingerprint(self.public)


def fingerprint(public_key: bytes) -> str:
    """``sha256:`` and the first 16 hex digits of SHA-256 over the 32-octet public key."""
    return "sha256:" + hashlib.sha256(z85.decode(public_key)).hexdigest()[:16]


def default_keys_dir() -> Path:
    """The key directory: $TTC_KEYS, or ~/.config/ttc/keys."""
    chosen = os.environ.get(KEYS_ENV)
    return Path(chosen).expanduser() if chosen else Path.home() / ".config" / "ttc" / "keys"


def _directory(directory: str | Path | None) -> Path:
    return Path(directory).expanduser() if directory else default_keys_dir()


# ---------------------------------------------------------------------- modes

def _check_private(path: Path, *, what: str, allowed: int) -> None:
    """Refuse ``path`` unless it is ours and nobody else may touch it."""
    st = path.stat()
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid != os.geteuid():
        raise KeysError(path, f"{what} {path} belongs to uid {st.st_uid}, not to you (uid {os.geteuid()}): "
                              f"use a key directory of your own (${KEYS_ENV}; the station's --keys)")
    if mode & PRIVATE_BITS:
        raise KeysError(path, f"{what} {path} has mode {mode:04o}: group or others may read it; allowed "
                              f"{allowed:04o} (run: chmod {allowed:o} {path})")


def _make_private_dir(path: Path, *, what: str) -> None:
    """Create ``path`` with mode 0700 when missing; refuse it when it exists and others may read it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        if not path.is_dir():
            raise KeysError(path, f"{what} {path} is not a directory") from None
    else:
        os.chmod(path, 0o700)  # mkdir's mode went through the umask
    _check_private(path, what=what, allowed=0o700)


def _check_dir(path: Path) -> None:
    """Refuse a missing or unsafe key directory, naming the fix."""
    if not path.is_dir():
        raise KeysError(path, f"no key directory at {path}: run `ttc keys init` (or start the station once: it "
                              f"creates the keys), or set ${KEYS_ENV} (the station's --keys) to the key directory")
    _check_private(path, what="key directory", allowed=0o700)


# ---------------------------------------------------------------------- certificates

def _write_certificate(path: Path, public: bytes, secret: bytes | None, *, name: str) -> bool:
    """Write a certificate unless ``path`` exists; True when this call wrote it (link-into-place: atomic)."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    text = (_SECRET_BANNER if secret else _PUBLIC_BANNER).format(now=now)
    text += f'metadata\n    name = "{name}"\ncurve\n    public-key = "{public.decode()}"\n'
    if secret:
        text += f'    secret-key = "{secret.decode()}"\n'
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if secret else 0o644)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _valid_key(key: bytes | None) -> bool:
    if key is None or len(key) != Z85_KEY_CHARS:
        return False
    try:
        return len(z85.decode(key)) == 32
    except (KeyError, ValueError):  # z85.decode looks characters up in a table
        return False


def _load_public(path: Path) -> bytes:
    try:
        public, _ = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as e:
        raise KeysError(path, f"{path} is not a ZeroMQ CURVE certificate: {e}") from e
    if not _valid_key(public):
        raise KeysError(path, f"{path}: its public-key is not a Z85 CURVE key ({Z85_KEY_CHARS} characters)")
    return public


def _load_pair(path: Path) -> KeyPair:
    if not path.is_file():
        raise KeysError(path, f"no key pair at {path}: run `ttc keys init` (or start the station once), or "
                              f"set ${KEYS_ENV} (the station's --keys) to the key directory that holds it")
    _check_private(path, what="secret key file", allowed=0o600)
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as e:
        raise KeysError(path, f"{path} is not a ZeroMQ CURVE certificate: {e}") from e
    if secret is None or not (_valid_key(public) and _valid_key(secret)):
        raise KeysError(path, f"{path} holds no CURVE key pair (public-key and secret-key, Z85)")
    if zmq.curve_public(secret) != public:
        raise KeysError(path, f"{path}: its public-key is not the one of its secret-key (an edited file?)")
    return KeyPair(public, secret, path)


def _ensure_pair(directory: Path, name: str) -> tuple[KeyPair, bool]:
    """The key pair ``name`` (created when its secret is missing), its public file written; (pair, created)."""
    secret_path = directory / f"{name}.key_secret"
    public_path = directory / f"{name}.key"
    created = False
    if not secret_path.exists():
        if public_path.exists():
            hint = (" (a client key directory, as `ttc keys new-client` makes: the station needs a directory of "
                    "its own)") if name == STATION else ""
            raise KeysError(public_path, f"{public_path} exists without {secret_path.name}{hint}; remove "
                                         f"{public_path} to have a new key pair made")
        public, secret = zmq.curve_keypair()
        created = _write_certificate(secret_path, public, secret, name=name)
    pair = _load_pair(secret_path)
    _write_certificate(public_path, pair.public, None, name=name)
    if _load_public(public_path) != pair.public:
        raise KeysError(public_path, f"{public_path} is not the public key of {secret_path.name}: remove it, and "
                                     f"`ttc keys init` writes it again from the secret")
    return pair, created


def ensure_keys(directory: str | Path | None = None) -> Path:
    """The key directory, with whatever was missing created (directory 0700, station and client pairs); its path.

    A client pair made here is authorised at once (``authorized_clients/client.key``).
    """
    path = _directory(directory)
    _make_private_dir(path, what="key directory")
    _make_private_dir(path / AUTHORIZED_DIR, what="authorised clients directory")
    _ensure_pair(path, STATION)
    client, created = _ensure_pair(path, CLIENT)
    if created:
        own = path / AUTHORIZED_DIR / f"{CLIENT}.key"
        if own.exists() and _load_public(own) != client.public:
            own.unlink()  # the secret it belonged to is gone: the new pair takes its place
            log.warning("replaced %s: a new client key pair was made in %s", own, path)
        _write_certificate(own, client.public, None, name=CLIENT)
    return path


def station_keypair(directory: str | Path | None = None) -> KeyPair:
    """The station's key pair (KeysError when missing or unsafe)."""
    path = _directory(directory)
    _check_dir(path)
    return _load_pair(path / f"{STATION}.key_secret")


def client_keypair(directory: str | Path | None = None) -> KeyPair:
    """This machine's operator key pair (KeysError when missing or unsafe)."""
    path = _directory(directory)
    _check_dir(path)
    return _load_pair(path / f"{CLIENT}.key_secret")


def station_public_key(directory: str | Path | None = None) -> bytes:
    """The station's public key, the CURVE server key clients need."""
    path = _directory(directory) / f"{STATION}.key"
    if not path.is_file():
        raise KeysError(path, f"no station public key at {path}: copy the station's station.key there (`ttc keys "
                              f"new-client` on the station host makes a complete directory)")
    return _load_public(path)


def client_credentials(directory: str | Path | None = None) -> tuple[bytes, bytes, bytes]:
    """(client public, client secret, station public): what a client socket needs for CURVE."""
    pair = client_keypair(directory)
    return pair.public, pair.secret, station_public_key(directory)


def authorized_clients(directory: str | Path | None = None) -> dict[bytes, str]:
    """Public keys the station accepts -> their names (``authorized_clients/NAME.key``); bad files are logged."""
    path = _directory(directory) / AUTHORIZED_DIR
    _check_dir(path.parent)
    if not path.is_dir():
        raise KeysError(path, f"no {path}: run `ttc keys init`")
    _check_private(path, what="authorised clients directory", allowed=0o700)
    found: dict[bytes, str] = {}
    for cert in sorted(path.glob("*.key")):
        try:
            found.setdefault(_load_public(cert), cert.stem)
        except KeysError as e:
            log.warning("ignoring %s (it authorises nobody): %s", cert, e)
    return found


def parse_public_key(value: str) -> bytes:
    """A public key given as a certificate file or as Z85 text (40 characters)."""
    path = Path(value).expanduser()
    if path.is_file():
        return _load_public(path)
    key = value.strip().encode()
    if _valid_key(key):
        return key
    raise KeysError(path, f"{value!r} is neither a key file nor a Z85 public key ({Z85_KEY_CHARS} characters, "
                          f"as in a client.key file)")


def _check_name(name: str) -> None:
    if not CLIENT_NAME.fullmatch(name):
        raise KeysError(Path(name), f"client name {name!r}: allowed letters, digits, '_', '.', '-' (1..64, not "
                                    f"starting with '.', '_' or '-')")


def authorize_client(directory: str | Path | None, name: str, public_key: bytes) -> tuple[Path, bool]:
    """Let the client with ``public_key`` in as ``name``; (its file, whether it was written now)."""
    _check_name(name)
    path = _directory(directory)
    known = authorized_clients(path)
    cert = path / AUTHORIZED_DIR / f"{name}.key"
    if cert.exists():
        held = _load_public(cert)
        if held == public_key:
            return cert, False
        raise KeysError(cert, f"{cert} already holds another key ({fingerprint(held)}): remove it first to "
                              f"replace client {name}")
    if public_key in known:
        other = path / AUTHORIZED_DIR / f"{known[public_key]}.key"
        raise KeysError(other, f"that key ({fingerprint(public_key)}) is already authorised as {other}")
    if not _write_certificate(cert, public_key, None, name=name):
        raise KeysError(cert, f"{cert} appeared while it was written: run the command again")
    return cert, True


def new_client(directory: str | Path | None, name: str, out_dir: str | Path) -> KeyPair:
    """A key pair for another operator machine in ``out_dir`` (with the station's public key), authorised here."""
    _check_name(name)
    station = station_keypair(directory)
    out = Path(out_dir).expanduser()
    _make_private_dir(out, what="new client key directory")
    if (out / f"{CLIENT}.key_secret").exists() or (out / f"{CLIENT}.key").exists():
        raise KeysError(out, f"{out} already holds a client key: choose another -o directory")
    held = out / f"{STATION}.key"
    if held.exists() and _load_public(held) != station.public:
        raise KeysError(held, f"{held} holds another station's key: choose another -o directory")
    public, secret = zmq.curve_keypair()
    authorize_client(directory, name, public)  # first: it refuses a name already taken, before anything is written
    _write_certificate(out / f"{CLIENT}.key_secret", public, secret, name=name)
    _write_certificate(out / f"{CLIENT}.key", public, None, name=name)
    _write_certificate(held, station.public, None, name=STATION)
    return KeyPair(public, secret, out / f"{CLIENT}.key_secret")


# ---------------------------------------------------------------------- the station's side

class _AuthorizedClients:
    """The ZAP check: a client key is let in when ``authorized_clients/`` holds it (re-read at each handshake)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._logged: dict[bytes, float] = {}

    def callback(self, domain: str, key: bytes) -> bool:
        """Whether the client with the Z85 public ``key`` may connect (runs on the authenticator's thread)."""
        try:
            known = authorized_clients(self.directory)
        except (KeysError, OSError) as e:
            log.error("refusing every client: %s", e)
            return False
        name = known.get(key)
        if name is not None:
            log.debug("client %s (%s) authenticated", name, fingerprint(key))
            return True
        now = time.monotonic()
        if now - self._logged.get(key, -REFUSAL_LOG_INTERVAL_S) >= REFUSAL_LOG_INTERVAL_S:
            if len(self._logged) > 1024:
                self._logged.clear()
            self._logged[key] = now
            log.warning("refused a client: its key %s (%s) is not in %s (`ttc keys add-client NAME KEY` "
                        "authorises it)", key.decode(), fingerprint(key), self.directory / AUTHORIZED_DIR)
        return False


_authenticators: dict[int, ThreadAuthenticator] = {}  # id(context) -> its ZAP handler (libzmq allows one each)
_authenticators_lock = threading.Lock()


def _authenticator(context: zmq.Context) -> ThreadAuthenticator:
    """The context's ZAP handler, started on first use; it lives (a daemon thread) as long as the process."""
    with _authenticators_lock:
        auth = _authenticators.get(id(context))
        if auth is None or not auth.is_alive():
            auth = ThreadAuthenticator(context, log=logging.getLogger("groundstation.keys.zap"))
            auth.start()
            _authenticators[id(context)] = auth
        return auth


def serve_curve(sockets: Iterable[zmq.Socket], directory: str | Path | None, *, context: zmq.Context) -> KeyPair:
    """Make ``sockets`` CURVE servers with the station's key pair, admitting only authorised clients; before bind."""
    path = _directory(directory).resolve()
    pair = station_keypair(path)
    # a domain of this key directory's own: two stations of one process may use different directories
    domain = f"{ZAP_DOMAIN}-{hashlib.sha256(str(path).encode()).hexdigest()[:16]}"
    _authenticator(context).configure_curve_callback(domain, _AuthorizedClients(path))
    for sock in sockets:
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_SECRETKEY, pair.secret)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, pair.public)
        sock.setsockopt(zmq.ZAP_DOMAIN, domain.encode())
        sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)  # no ZAP handler: refuse everyone, not admit everyone
    return pair


def local_endpoint(endpoint: str) -> bool:
    """Whether a ZeroMQ endpoint (tcp://HOST:PORT, ipc://) is reachable from this host only."""
    if endpoint.startswith("ipc://"):
        return True
    if not endpoint.startswith("tcp://"):
        return False
    host = endpoint[len("tcp://"):].rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # *, an interface name, a host name: may be reachable from elsewhere
        return False


# ---------------------------------------------------------------------- ttc keys

_dir_option = click.option("--dir", "keys_dir", envvar=KEYS_ENV, default=None,
                           type=click.Path(file_okay=False, path_type=Path),
                           help=f"key directory (env {KEYS_ENV}; default ~/.config/ttc/keys)")


def _click_error(e: KeysError | OSError) -> click.ClickException:
    return click.ClickException(str(e) if isinstance(e, KeysError) else f"{e.strerror}: {e.filename}")


@click.group("keys")
def keys() -> None:
    """Keys: the station API's CURVE keys (init, show, add-client, new-client: who may command and read
    telemetry) and the uplink's SDLS keys (generate, list, rotate, show-sa, export-onboard: what the
    spacecraft accepts as ours). docs/threat-model.md says what each protects."""


@keys.command("init")
@_dir_option
def init(keys_dir: Path | None) -> None:
    """Create the key directory and whatever keys it lacks; print the paths and fingerprints."""
    path = _directory(keys_dir)
    had = {name: (path / f"{name}.key_secret").exists() for name in (STATION, CLIENT)}
    try:
        ensure_keys(path)
        pairs = {STATION: station_keypair(path), CLIENT: client_keypair(path)}
        n = len(authorized_clients(path))
    except (KeysError, OSError) as e:
        raise _click_error(e) from e
    click.echo(f"key directory  {path} (mode 0700)")
    for name, pair in pairs.items():
        state = "kept" if had[name] else "created"
        click.echo(f"{name:<8} {state:<8} {pair.fingerprint}  {path / f'{name}.key'} (secret: {pair.path})")
    click.echo(f"authorised clients: {n} in {path / AUTHORIZED_DIR}")


@keys.command("show")
@_dir_option
def show(keys_dir: Path | None) -> None:
    """Print the public keys, their fingerprints and paths, and the authorised clients."""
    path = _directory(keys_dir)
    try:
        _check_dir(path)
        rows = []
        for name in (STATION, CLIENT):
            secret = path / f"{name}.key_secret"
            public = _load_pair(secret).public if secret.exists() else _load_public(path / f"{name}.key")
            rows.append((name, public, path / f"{name}.key", secret.exists()))
        authorised = authorized_clients(path) if (path / AUTHORIZED_DIR).is_dir() else {}
    except (KeysError, OSError) as e:
        raise _click_error(e) from e
    click.echo(f"key directory  {path}")
    for name, public, where, has_secret in rows:
        click.echo(f"{name:<8} {public.decode()}  {fingerprint(public)}  {where}"
                   f"{'' if has_secret else ' (public key only)'}")
    click.echo(f"authorised clients ({path / AUTHORIZED_DIR}):")
    for public, name in sorted(authorised.items(), key=lambda kv: kv[1]):
        click.echo(f"  {name:<16} {public.decode()}  {fingerprint(public)}")


@keys.command("add-client")
@click.argument("name")
@click.argument("public_key", metavar="PUBLIC_KEY_FILE_OR_Z85")
@_dir_option
def add_client(name: str, public_key: str, keys_dir: Path | None) -> None:
    """Authorise another operator's client: its client.key file, or the Z85 public key it holds."""
    try:
        key = parse_public_key(public_key)
        cert, written = authorize_client(keys_dir, name, key)
    except (KeysError, OSError) as e:
        raise _click_error(e) from e
    click.echo(f"client {name} {'authorised' if written else 'was already authorised'}: {fingerprint(key)} "
               f"in {cert} (a running station admits it from its next connection)")


@keys.command("new-client")
@click.argument("name")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="directory for the new client's keys (created 0700): the other machine's key directory")
@_dir_option
def new_client_cmd(name: str, out_dir: Path, keys_dir: Path | None) -> None:
    """Make a key pair for another operator machine, with the station's public key, and authorise it."""
    try:
        pair = new_client(keys_dir, name, out_dir)
    except (KeysError, OSError) as e:
        raise _click_error(e) from e
    click.echo(f"client {name}: {pair.fingerprint}, authorised in {_directory(keys_dir) / AUTHORIZED_DIR}")
    click.echo(f"its keys are in {out_dir}: move that directory to the operator machine (its ~/.config/ttc/keys, "
               f"or ${KEYS_ENV}) over a channel you trust; it holds a secret key")
