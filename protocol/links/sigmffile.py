"""IQ recordings as SigMF: complex64 samples (``cf32_le``) in ``NAME.sigmf-data``, metadata in ``NAME.sigmf-meta``.

SigMF (the Signal Metadata Format, sigmf.org, v1.2) is what SDR tools exchange recordings in; the
``sigmf`` package reads and writes it (schema-checked), so this module only maps our modem settings to
its fields: ``core:sample_rate``, the capture's ``core:frequency`` and ``core:datetime``, and the link
settings in the ``ttc:`` extension namespace of the global object (``ttc:modulation``, ``ttc:rate_bd``,
``ttc:sps``, ``ttc:coding``: JSON-able dicts of how the bits were made), so ``ttc decode pass.sigmf-data``
knows how to demodulate a file we wrote, and options say it for a file someone else wrote.

Samples are read through a memory map in blocks (:meth:`IqReader.blocks`), so a recording of any size
is demodulated in bounded memory; the SHA-512 that SigMF can carry is written (it guards the data
file) but only checked when asked, because hashing a multi-gigabyte pass costs more than decoding it.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LocalProtocolError, RemoteProtocolError

__all__ = ["IqMeta", "write_sigmf", "SigmfWriter", "IqReader", "data_path", "meta_path", "is_sigmf"]

LAYER = "sigmf"
DATATYPE = "cf32_le"
_SUFFIXES = (".sigmf-data", ".sigmf-meta", ".sigmf")


def _base(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    for suffix in _SUFFIXES:
        if p.name.endswith(suffix):
            return p.with_name(p.name[: -len(suffix)])
    return p


def data_path(path: str | os.PathLike[str]) -> Path:
    """``NAME.sigmf-data`` for NAME, NAME.sigmf-data or NAME.sigmf-meta."""
    b = _base(path)
    return b.with_name(b.name + ".sigmf-data")


def meta_path(path: str | os.PathLike[str]) -> Path:
    """``NAME.sigmf-meta`` for NAME, NAME.sigmf-data or NAME.sigmf-meta."""
    b = _base(path)
    return b.with_name(b.name + ".sigmf-meta")


def is_sigmf(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a SigMF recording whose metadata file exists."""
    return Path(path).name.endswith(_SUFFIXES) and meta_path(path).exists()


@dataclass(frozen=True)
class IqMeta:
    """What a recording says about itself: sample rate, where and when, and how its bits were modulated."""

    sample_rate_hz: float
    center_freq_hz: float | None = None
    datetime_utc: str | None = None  # ISO 8601 with Z, the first sample's time
    modulation: str | None = None  # "bpsk", "gmsk", "gfsk"
    rate_bd: float | None = None  # symbols per second
    coding: Mapping[str, Any] = field(default_factory=dict)  # convolutional, differential, rs, ...
    description: str = ""

    @property
    def sps(self) -> float | None:
        """Samples per symbol."""
        return None if not self.rate_bd else self.sample_rate_hz / self.rate_bd


def write_sigmf(path: str | os.PathLike[str], samples: np.ndarray, meta: IqMeta) -> tuple[Path, Path]:
    """Write ``samples`` (complex) and ``meta`` as a SigMF pair; the (data, meta) paths."""
    with SigmfWriter(path, meta) as w:
        w.write(samples)
    return w.data_file, w.meta_file


class SigmfWriter:
    """Writes a SigMF recording block by block (bounded memory); the metadata goes out at :meth:`close`."""

    def __init__(self, path: str | os.PathLike[str], meta: IqMeta) -> None:
        if not meta.sample_rate_hz > 0:
            raise LocalProtocolError(LAYER, "sample_rate_hz", meta.sample_rate_hz, "> 0")
        self.meta = meta
        self.data_file, self.meta_file = data_path(path), meta_path(path)
        self._f = open(self.data_file, "wb")  # noqa: SIM115 - closed in close()
        self.samples = 0

    def write(self, samples: np.ndarray) -> None:
        """Append complex samples (stored as complex64)."""
        arr = np.asarray(samples)
        if arr.ndim != 1 or arr.dtype.kind != "c":
            raise LocalProtocolError(LAYER, "samples", f"{arr.dtype} of shape {arr.shape}", "one-dimensional complex")
        self._f.write(arr.astype("<c8", copy=False).tobytes())
        self.samples += len(arr)

    def close(self) -> None:
        """Close the data file and write the metadata beside it."""
        if self._f.closed:
            return
        self._f.close()
        _write_meta(self.data_file, self.meta_file, self.meta)

    def __enter__(self) -> SigmfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_meta(dpath: Path, mpath: Path, meta: IqMeta) -> None:
    from sigmf import SigMFFile
    info: dict[str, Any] = {"core:datatype": DATATYPE, "core:sample_rate": float(meta.sample_rate_hz),
                            "core:recorder": "ttc modem", "core:extensions": [
                                {"name": "ttc", "version": "1.0.0", "optional": True}]}
    if meta.description:
        info["core:description"] = meta.description
    for key, value in (("ttc:modulation", meta.modulation), ("ttc:rate_bd", meta.rate_bd),
                       ("ttc:sps", meta.sps)):
        if value is not None:
            info[key] = value
    if meta.coding:
        info["ttc:coding"] = json.loads(json.dumps(dict(meta.coding)))
    sm = SigMFFile(data_file=str(dpath), global_info=info)
    capture: dict[str, Any] = {}
    if meta.center_freq_hz is not None:
        capture["core:frequency"] = float(meta.center_freq_hz)
    if meta.datetime_utc is not None:
        capture["core:datetime"] = meta.datetime_utc
    sm.add_capture(0, metadata=capture)
    sm.tofile(str(mpath))


class IqReader:
    """A SigMF recording opened for reading: its :class:`IqMeta` and its samples in blocks (memory-mapped)."""

    def __init__(self, path: str | os.PathLike[str], *, verify_checksum: bool = False) -> None:
        from sigmf import sigmffile
        from sigmf.error import SigMFError

        self.meta_file, self.data_file = meta_path(path), data_path(path)
        if not self.meta_file.exists():
            raise LocalProtocolError(LAYER, "metadata file", str(self.meta_file), "an existing .sigmf-meta beside the data")
        try:
            with warnings.catch_warnings():  # sigmf warns of a torn data file; the size is checked below
                warnings.simplefilter("ignore", UserWarning)
                sm = sigmffile.fromfile(str(self.meta_file), skip_checksum=not verify_checksum)
        except (SigMFError, ValueError, json.JSONDecodeError) as e:
            raise RemoteProtocolError(LAYER, "metadata", str(self.meta_file), f"valid SigMF ({e})", offset=0) from e
        info = sm.get_global_info()
        datatype = info.get("core:datatype")
        if datatype != DATATYPE:
            raise RemoteProtocolError(LAYER, "core:datatype", datatype, f"{DATATYPE} (complex64 little endian)", offset=0)
        rate = info.get("core:sample_rate")
        if not isinstance(rate, (int, float)) or rate <= 0:
            raise RemoteProtocolError(LAYER, "core:sample_rate", rate, "> 0 samples/s", offset=0)
        captures = sm.get_captures() or [{}]
        first = captures[0]
        self.meta = IqMeta(sample_rate_hz=float(rate), center_freq_hz=first.get("core:frequency"),
                           datetime_utc=first.get("core:datetime"), modulation=info.get("ttc:modulation"),
                           rate_bd=info.get("ttc:rate_bd"), coding=info.get("ttc:coding") or {},
                           description=info.get("core:description", ""))
        offset = int(info.get("core:offset", 0) or 0)
        size = self.data_file.stat().st_size
        if size % 8:
            raise RemoteProtocolError(LAYER, "data file size", size, "a multiple of 8 octets (complex64)", offset=size)
        self.samples = np.memmap(self.data_file, dtype="<c8", mode="r") if size else np.zeros(0, "<c8")
        self.first_sample = offset

    def __len__(self) -> int:
        return len(self.samples)

    def blocks(self, block_samples: int = 1 << 18) -> Iterator[np.ndarray]:
        """The samples in blocks of at most ``block_samples`` (complex64 copies, so the map stays read-only)."""
        for start in range(0, len(self.samples), block_samples):
            yield np.array(self.samples[start:start + block_samples], dtype=np.complex64)
