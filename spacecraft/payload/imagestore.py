"""The image store: captured image products kept on board until the operator deletes them.

Each image is one file ``<id>.ttci`` (a :mod:`protocol.imageproduct` product, whose CRC-32 proves it whole)
written through a temporary file and a rename, so a kill at any moment leaves either the whole image or
none; the catalogue is rebuilt from the files at start (a damaged file is counted, set aside as
``.damaged`` and forgotten, never served). Capacity is bounded: a capture that does not fit is refused
(the command fails with a reason), nothing already stored is dropped to make room, because an image the
ground has not seen yet may be the one that matters.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from protocol.errors import ProtocolError
from protocol.imageproduct import decode_product

__all__ = ["ImageStore", "StoredImage", "StoreFull"]

log = logging.getLogger("spacecraft.payload.imagestore")


class StoreFull(Exception):
    """The image does not fit: names what it needs and what is free."""

    def __init__(self, needed_octets: int, free_octets: int) -> None:
        self.needed_octets = needed_octets
        self.free_octets = free_octets
        super().__init__(f"image store full: {needed_octets} octets needed, {free_octets} free")


@dataclass(frozen=True, slots=True)
class StoredImage:
    """One stored image: its ID, capture time, size and how many detections it gave."""

    image_id: int
    capture_tai_s: float
    octets: int
    detections: int


class ImageStore:
    """Image products by image ID, in ``directory`` (or in memory when None), at most ``capacity_octets``."""

    def __init__(self, directory: Path | None, *, capacity_octets: int = 256 << 20) -> None:
        self.directory = directory
        self.capacity_octets = capacity_octets
        self._images: dict[int, StoredImage] = {}
        self._memory: dict[int, bytes] = {}
        self.damaged = 0
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._load(directory)

    @property
    def used_octets(self) -> int:
        """Octets the stored products take."""
        return sum(i.octets for i in self._images.values())

    @property
    def free_octets(self) -> int:
        """Room left."""
        return max(0, self.capacity_octets - self.used_octets)

    def __contains__(self, image_id: int) -> bool:
        return image_id in self._images

    def __len__(self) -> int:
        return len(self._images)

    def catalogue(self) -> list[StoredImage]:
        """Every stored image, by image ID."""
        return [self._images[k] for k in sorted(self._images)]

    def put(self, image_id: int, product: bytes, *, capture_tai_s: float, detections: int) -> StoredImage:
        """Store one product (replacing an image of the same ID); StoreFull when it does not fit."""
        old = self._images.get(image_id)
        free = self.free_octets + (old.octets if old else 0)
        if len(product) > free:
            raise StoreFull(len(product), free)
        entry = StoredImage(image_id, float(capture_tai_s), len(product), int(detections))
        if self.directory is None:
            self._memory[image_id] = bytes(product)
        else:
            final = self._path(image_id)
            tmp = final.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                f.write(product)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
            with open(self._meta_path(image_id), "w", encoding="ascii") as f:
                f.write(f"{entry.detections}\n")
        self._images[image_id] = entry
        return entry

    def get(self, image_id: int) -> bytes:
        """The product of one image; KeyError when there is none."""
        if image_id not in self._images:
            raise KeyError(image_id)
        if self.directory is None:
            return self._memory[image_id]
        return self._path(image_id).read_bytes()

    def delete(self, image_id: int) -> None:
        """Forget one image; KeyError when there is none."""
        if image_id not in self._images:
            raise KeyError(image_id)
        del self._images[image_id]
        self._memory.pop(image_id, None)
        if self.directory is not None:
            for p in (self._path(image_id), self._meta_path(image_id)):
                p.unlink(missing_ok=True)

    def _path(self, image_id: int) -> Path:
        return self.directory / f"{image_id:05d}.ttci"  # type: ignore[operator]

    def _meta_path(self, image_id: int) -> Path:
        return self.directory / f"{image_id:05d}.detections"  # type: ignore[operator]

    def _load(self, directory: Path) -> None:
        for tmp in directory.glob("*.tmp"):
            tmp.unlink()  # a write that did not finish: the image was never stored
        for path in sorted(directory.glob("*.ttci")):
            data = path.read_bytes()
            try:
                product = decode_product(data)
            except ProtocolError as e:
                self.damaged += 1
                log.error("image file %s is damaged (%s): set aside", path.name, e)
                path.rename(path.with_suffix(".damaged"))
                continue
            try:
                detections = int(self._meta_path(product.image_id).read_text(encoding="ascii").strip() or 0)
            except (OSError, ValueError):
                detections = 0
            self._images[product.image_id] = StoredImage(product.image_id, product.capture_tai_s, len(data),
                                                         detections)
