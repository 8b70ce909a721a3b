"""ttc's CCSDS protocol stack, sans-IO: bytes in, typed objects out; objects in, bytes out."""

__version__ = "0.1.0"
