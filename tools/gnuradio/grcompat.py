"""Imported first by every flowgraph here: makes gr-satellites 4.4 load on GNU Radio 3.10.

Runs only in the system interpreter that has GNU Radio (``/usr/bin/python3``); the toolkit never imports
it. gr-satellites 4.4 still names the PDU item type ``blocks.byte_t``, which GNU Radio 3.10 moved to
``gr.types.byte_t`` (Debian 12 ships exactly this pair), so the deframers fail at construction without
this alias. Also quiets GNU Radio's INFO logging, which would otherwise fill the tests' stderr.
"""

from __future__ import annotations

import os

os.environ.setdefault("GR_CONF_LOG_LOG_LEVEL", "warn")

from gnuradio import blocks, gr  # noqa: E402  (after the log level is set)

if not hasattr(blocks, "byte_t"):
    blocks.byte_t = gr.types.byte_t
