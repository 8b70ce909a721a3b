"""SDLS keys and security associations: the key file, and ``ttc keys generate|list|rotate|show-sa|export-onboard``.

The key file (JSON; ``$TTC_SDLS_KEYS``, default ``~/.config/ttc/sdls-keys.json``) lives outside the
repository and is refused unless only its owner can read it (mode 0600, as ssh insists):

    {"format": "ttc-sdls-keys/1", "scid": 427, "vcid": 0,
     "keys": {"1": {"key": "<64 hex digits>", "state": "active" | "retired", "created": "<ISO time>"}},
     "sas": {"1": {"spi": 1, "key_id": 1, "encrypt": true, "iv_len": 12, "arsn_len": 0, "arsn_window": 64,
                   "mac_len": 16, "state": "operational" | "expired"}},
     "iv_lease": {"1": 4096}}

* Keys are AES-256 (32 random octets from :mod:`secrets`). Only :meth:`KeyFile.key` hands one out, as
  bytes, to the protocol layer; nothing here prints, logs or raises with key material: ``list`` shows
  a key's SHA-256 fingerprint, never the key.
* GCM must never see one IV twice under one key, across restarts too. The ground side leases IVs in
  blocks (:data:`IV_LEASE`): the file records the end of the current block before any IV of it is
  used, so a station that stops at any moment starts again above every IV it may have sent.
* ``rotate`` adds a new key, retires the old one and moves the operational SA to it (the IV counter
  starts again: a new key has seen no IV). The spacecraft needs the same key: ``export-onboard``
  writes its key store (keys and SAs, no leases), as it would be loaded before launch or by the
  rekeying procedures of 355.1, which this toolkit does not fly yet.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from protocol.errors import LocalProtocolError

from .keys import KeysError, _check_private
from protocol.sdls import KEY_LEN, SdlsSender, SecurityAssociation, parse_key_store

__all__ = ["KeyFile", "KeyFileError", "write_private", "SDLS_KEYS_ENV", "default_key_file", "generate", "IV_LEASE", "keys_commands"]

SDLS_KEYS_ENV = "TTC_SDLS_KEYS"
FORMAT = "ttc-sdls-keys/1"
IV_LEASE = 4096  # IVs reserved on disk at a time (one write per this many protected frames)


class KeyFileError(Exception):
    """A key file that cannot be used: missing, readable by others, malformed; says how to fix it."""


def default_key_file() -> Path:
    """``$TTC_SDLS_KEYS`` or ``~/.config/ttc/sdls-keys.json``."""
    env = os.environ.get(SDLS_KEYS_ENV)
    return Path(env) if env else Path.home() / ".config" / "ttc" / "sdls-keys.json"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _fingerprint(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def write_private(path: Path, data: dict[str, Any], *, exclusive: bool = False) -> None:
    """Write ``data`` as the file's new content, mode 0600, atomically (a temporary file renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if exclusive and path.exists():
        raise KeyFileError(f"{path} exists: refusing to overwrite keys (ttc keys rotate changes them)")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            os.link(tmp, path)  # fails when the name appeared meanwhile
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def generate(path: Path, *, scid: int, vcid: int, spi: int = 1, encrypt: bool = True) -> KeyFile:
    """A new key file with one key and one operational SA; refuses to overwrite one."""
    sa = SecurityAssociation.default(spi, scid, vcid, 1, encrypt=encrypt)  # checks the values
    data = {"format": FORMAT, "scid": scid, "vcid": vcid,
            "keys": {"1": {"key": secrets.token_bytes(KEY_LEN).hex(), "state": "active", "created": _now()}},
            "sas": {str(spi): {"spi": spi, "key_id": 1, "encrypt": sa.encrypt, "iv_len": sa.iv_len,
                               "arsn_len": sa.arsn_len, "arsn_window": sa.arsn_window, "mac_len": sa.mac_len,
                               "state": "operational"}},
            "iv_lease": {}}
    write_private(path, data, exclusive=True)
    return KeyFile.load(path)


@dataclass
class KeyFile:
    """A loaded key file (see the module's docstring)."""

    path: Path
    data: dict[str, Any]

    def __repr__(self) -> str:
        return f"KeyFile({str(self.path)!r}, keys={sorted(self.data['keys'])}, sas={sorted(self.data['sas'])})"

    @classmethod
    def load(cls, path: Path) -> KeyFile:
        """Read and check ``path``: ours, mode 0600 (no group or other bits), well formed."""
        path = Path(path)
        if not path.exists():
            raise KeyFileError(f"no SDLS key file at {path}: run `ttc keys generate` (or set ${SDLS_KEYS_ENV})")
        try:  # ours, and nobody else may read it: the station's rule for its CURVE secrets
            _check_private(path, what="SDLS key file", allowed=0o600)
        except KeysError as e:
            raise KeyFileError(f"{e}; consider its keys compromised") from None
        try:
            data = json.loads(path.read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise KeyFileError(f"SDLS key file {path} is not readable JSON ({type(e).__name__})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise KeyFileError(f"SDLS key file {path}: format is {data.get('format') if isinstance(data, dict) else '?'}"
                               f", allowed {FORMAT}")
        kf = cls(path, data)
        try:
            for key_id, entry in data["keys"].items():
                if len(bytes.fromhex(entry["key"])) != KEY_LEN:
                    raise ValueError(f"key {key_id} is not {KEY_LEN} octets")
            kf.sas()
        except (KeyError, TypeError, ValueError, LocalProtocolError) as e:
            # Python's messages here name a field or a position, never a key's value
            raise KeyFileError(f"SDLS key file {path} is malformed: {type(e).__name__}: {e}") from None
        return kf

    # -- what the protocol layer gets --
    def sas(self) -> list[SecurityAssociation]:
        """Every SA of the file (but expired ones)."""
        return parse_key_store(self.data)[0]

    def operational(self) -> SecurityAssociation:
        """The SA the ground protects frames with."""
        ops = [sa for sa in self.sas() if self.data["sas"][str(sa.spi)].get("state") == "operational"]
        if len(ops) != 1:
            raise KeyFileError(f"SDLS key file {self.path}: {len(ops)} operational SAs, allowed exactly one")
        return ops[0]

    def key(self, key_id: int) -> bytes | None:
        """The key of ``key_id`` (None when the file has no active key of that ID)."""
        entry = self.data["keys"].get(str(key_id))
        if entry is None or entry.get("state") != "active":
            return None
        return bytes.fromhex(entry["key"])

    def sender(self) -> SdlsSender:
        """An :class:`SdlsSender` for the operational SA, its IV above every IV this file ever leased out."""
        sa = self.operational()
        key = self.key(sa.key_id)
        if key is None:
            raise KeyFileError(f"SDLS key file {self.path}: SA {sa.spi} uses key {sa.key_id}, which is not active")
        start = int(self.data["iv_lease"].get(str(sa.spi), 0))
        sender = _LeasingSender(sa, key, self, iv=start)
        sender.lease()
        return sender

    # -- management --
    def rotate(self) -> int:
        """A new key for the operational SA; the old one retired. The new key's ID."""
        sa = self.operational()
        new_id = max(int(k) for k in self.data["keys"]) + 1
        if new_id > 0xFFFF:
            raise KeyFileError("key IDs exhausted (65535)")
        self.data["keys"][str(sa.key_id)]["state"] = "retired"
        self.data["keys"][str(new_id)] = {"key": secrets.token_bytes(KEY_LEN).hex(), "state": "active",
                                          "created": _now()}
        self.data["sas"][str(sa.spi)]["key_id"] = new_id
        self.data["iv_lease"][str(sa.spi)] = 0  # a new key has seen no IV
        write_private(self.path, self.data)
        return new_id

    def listing(self) -> list[dict[str, Any]]:
        """Keys as ID, state, creation time and SHA-256 fingerprint (never the key)."""
        return [{"key_id": int(k), "state": v["state"], "created": v["created"],
                 "fingerprint": _fingerprint(bytes.fromhex(v["key"]))} for k, v in sorted(self.data["keys"].items(),
                                                                                        key=lambda kv: int(kv[0]))]

    def onboard_copy(self) -> dict[str, Any]:
        """The spacecraft's key store: the same keys and SAs, no IV leases (the board keeps its own windows)."""
        return {k: v for k, v in self.data.items() if k != "iv_lease"}


class _LeasingSender(SdlsSender):
    """An SdlsSender that writes the end of each block of IVs to the key file before using any of it."""

    def __init__(self, sa: SecurityAssociation, key: bytes, keyfile: KeyFile, *, iv: int) -> None:
        super().__init__(sa, key, iv=iv)
        self._keyfile = keyfile
        self._leased_to = iv

    def lease(self) -> None:
        self._leased_to = self.iv + IV_LEASE
        self._keyfile.data["iv_lease"][str(self.sa.spi)] = self._leased_to
        write_private(self._keyfile.path, self._keyfile.data)

    def protect(self, frame):  # type: ignore[no-untyped-def]
        if self.iv + 1 >= self._leased_to:
            self.lease()
        return super().protect(frame)


# ---------------------------------------------------------------------- ttc keys (SDLS)

_file_option = click.option("--file", "key_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                            help=f"the SDLS key file (default ${SDLS_KEYS_ENV} or ~/.config/ttc/sdls-keys.json)")


def _load(key_file: Path | None) -> KeyFile:
    try:
        return KeyFile.load(key_file or default_key_file())
    except KeyFileError as e:
        raise click.ClickException(str(e)) from None


@click.command("generate")
@_file_option
@click.option("--spi", type=click.IntRange(1, 0xFFFE), default=1, show_default=True)
@click.option("--authenticate-only", is_flag=True, help="authentication only (GMAC): commands in clear")
def generate_cmd(key_file: Path | None, spi: int, authenticate_only: bool) -> None:
    """Create the SDLS key file: one AES-256 key and one operational SA on the mission's uplink VC."""
    from .mission import selected

    mission = selected()
    path = key_file or default_key_file()
    try:
        kf = generate(path, scid=mission.uplink.scid, vcid=mission.uplink.vcid, spi=spi,
                      encrypt=not authenticate_only)
    except KeyFileError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"wrote {path} (mode 0600): key 1 {kf.listing()[0]['fingerprint']}, SA {spi} operational")


@click.command("list")
@_file_option
def list_cmd(key_file: Path | None) -> None:
    """The SDLS keys: ID, state, created, SHA-256 fingerprint (never the key)."""
    for k in _load(key_file).listing():
        click.echo(f"key {k['key_id']:<5} {k['state']:<8} created {k['created']}  sha256 {k['fingerprint']}")


@click.command("rotate")
@_file_option
def rotate_cmd(key_file: Path | None) -> None:
    """A new key for the operational SA (the old one retired); export it on board before using it."""
    kf = _load(key_file)
    new_id = kf.rotate()
    click.echo(f"key {new_id} active for SA {kf.operational().spi}; the spacecraft needs it too "
               f"(ttc keys export-onboard)")


@click.command("show-sa")
@_file_option
def show_sa_cmd(key_file: Path | None) -> None:
    """The security associations: SPI, channel, key ID, service, lengths, window, state."""
    kf = _load(key_file)
    for sa in kf.sas():
        v = kf.data["sas"][str(sa.spi)]
        service = "authenticated encryption" if sa.encrypt else "authentication only"
        click.echo(f"SA {sa.spi}: SCID {sa.scid} VC {sa.vcid}, key {sa.key_id}, AES-256-GCM {service}, IV "
                   f"{sa.iv_len} ARSN {sa.arsn_len} MAC {sa.mac_len} octets, window {sa.arsn_window}, "
                   f"mask all {sa.header_len} header octets, {v.get('state')}")


@click.command("export-onboard")
@_file_option
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def export_onboard_cmd(key_file: Path | None, out: Path) -> None:
    """Write the spacecraft's key store (the same keys and SAs, mode 0600) to OUT."""
    kf = _load(key_file)
    try:
        write_private(out, kf.onboard_copy())
    except KeyFileError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"wrote {out} (mode 0600): {len(kf.data['keys'])} keys, {len(kf.data['sas'])} SAs")


keys_commands = [generate_cmd, list_cmd, rotate_cmd, show_sa_cmd, export_onboard_cmd]
