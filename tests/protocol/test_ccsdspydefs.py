"""ccsdspy reads our CSV packet definitions and decodes the on-board software's housekeeping as we do."""

from __future__ import annotations

import io
from pathlib import Path

import ccsdspy
import numpy as np
from click.testing import CliRunner

from groundstation.cli import main
from protocol.mission import MISSION
from spacecraft.onboard import OnboardComputer, OnboardConfig


def test_ccsdspy_decodes_every_fixed_layout_packet_from_our_definitions(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["db", "export", "--format", "ccsdspy", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    obc = OnboardComputer(OnboardConfig(adcs=True), boot_tai_s=2.0e9)
    obc.advance(2.0e9 + 26)
    packets = [r.data for vc in MISSION.link.downlink.priorities for r in obc.store.pending(vc)]
    checked = 0
    for tm in MISSION.packets.values():
        if tm.tail:
            assert not (tmp_path / f"{tm.name}.csv").exists()  # variable length: not a FixedLength layout
            continue
        if tm.service != 3:
            continue  # the other fixed layouts (DETECTION) are checked from real captures in test_payload_packets
        mine = [p for p in packets if MISSION.decode_tm(p).name == tm.name]
        assert len(mine) >= 5, tm.name
        theirs = ccsdspy.FixedLength.from_file(str(tmp_path / f"{tm.name}.csv")).load(io.BytesIO(b"".join(mine)))
        ours = [MISSION.decode_tm(p) for p in mine]
        for i, s in enumerate(ours[0].parameters):
            expected = np.array([o.parameters[i].raw for o in ours], dtype=float)
            assert np.array_equal(theirs[s.name].astype(float), expected), (tm.name, s.name)
            checked += 1
        assert list(theirs["PUS_SERVICE"]) == [3] * len(mine) and list(theirs["SID"]) == [tm.sid] * len(mine)
        assert list(theirs["TIME_COARSE"]) == [int(o.tm.time.coarse_s_raw) for o in ours]
    assert checked == sum(len(tm.parameters) for tm in MISSION.packets.values() if not tm.tail and tm.service == 3)
