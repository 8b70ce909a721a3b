"""`ttc demo`: a scripted operations pass against real spacecraft, channel and station processes.

The script is what an operator's procedure looks like with the Python client:
ping, change a housekeeping interval, ask for time reports, send a
time-tagged command and see it fire, set an on-board parameter out of its
limits and watch the alarm, send a command that fails verification on
purpose, then fly the payload: an image queued for playback, and a second one
analysed on board whose detections come down ahead of the imagery queued
before them; then print the per-layer counters. The channel adds bit errors
(1e-5 by default) so the Reed-Solomon corrections show, and with ``up_loss``
loses uplink frames: the commands go through COP-1's AD service (initiated
first, with Unlock), so FOP-1 retransmits what FARM-1's CLCW reports missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from groundstation.client import CommandFailed, CommandTimeout
from groundstation.loopback import LoopbackPass, PassConfig

__all__ = ["run_demo"]


def _stages(stages: list[dict[str, Any]]) -> str:
    """Verification stages as one line; those of a TC[11,4] wrapper are marked ``schedule:``."""
    return " -> ".join(("schedule:" if s.get("of") == "schedule" else "") + s["stage"]
                       + ("" if s.get("ok", True) else f" FAILED ({s.get('reason')})") for s in stages)


def run_demo(workdir: Path, config: PassConfig | None = None, *, echo: Callable[[str], None] = print
             ) -> dict[str, Any]:
    """Fly the scripted pass in ``workdir``; print what happens; return the outcome for checks."""
    outcome: dict[str, Any] = {"steps": {}}
    steps = outcome["steps"]
    t_start = time.monotonic()
    with LoopbackPass(workdir, config) as p:
        gs = p.gs
        urls = p.channel.endpoints if p.channel else {}
        if p.config.link == "gnuradio":
            noise = "no noise" if p.config.ebn0_db is None else f"AWGN at Eb/N0 {p.config.ebn0_db:g} dB"
            echo(f"started spacecraft, GNU Radio flowgraph (CADUs -> soft symbols, {noise} -> gr-satellites' "
                 f"CCSDS deframer) and station (downlink frames {urls.get('gs_down')}, uplink {urls.get('gs_up')}); "
                 f"files in {workdir}")
        else:
            if p.config.link == "radio":
                echo(f"the channel runs the downlink at the sample level: BPSK IQ with AWGN at Eb/N0 "
                     f"{p.config.ebn0_db:g} dB, demodulated and synchronised again")
            echo(f"started channel, spacecraft and station (downlink {urls.get('sc_down')} -> {urls.get('gs_down')}, "
                 f"uplink {urls.get('gs_up')} -> {urls.get('sc_up')}); files in {workdir}")

        first = p.until(lambda: gs.parameters(names=["BATTERY_VOLTAGE"], limit=1), "housekeeping")[0]
        echo(f"housekeeping flowing: BATTERY_VOLTAGE {first['eng']:.3f} {first['unit']} at {first['obt']}")

        loss = p.config.up_loss if p.config.up_loss is not None else p.config.loss
        echo(f"0. COP-1: initiate AD service with Unlock (T1 1 s; the channel loses {loss:.0%} of uplink frames)")
        gs.cop1("set-timer", 1.0)
        answer = gs.cop1("initiate-unlock")
        echo("  " + "; ".join(f"{r['directive']} {r['response']}" for r in answer["responses"]))
        cop1 = p.until(lambda: (st := gs.cop1()["status"])["state"] == "S1" and st,
                       "COP-1 AD service (a CLCW confirming the Unlock)", timeout_s=30)
        clcw = cop1["last_clcw"]
        echo(f"  FOP-1 {cop1['state']} {cop1['state_name']}: V(S) {cop1['v_s']}, CLCW from FARM-1: V(R) "
             f"{clcw['report_value']}, lockout {int(clcw['lockout'])}, wait {int(clcw['wait'])}, retransmit "
             f"{int(clcw['retransmit'])}; commands now go AD")
        steps["cop1_initiated"] = cop1
        if cop1.get("sdls"):
            sa = cop1["sdls"]
            echo(f"  every uplink frame protected with SDLS: SA {sa['spi']}, key {sa['key_id']}, AES-256-GCM "
                 f"{'authenticated encryption' if sa['encrypt'] else 'authentication only'} (key file {p.sdls_keys})")

        def command(name: str, args: dict[str, Any] | None = None, *, at: float | None = None,
                    timeout_s: float = 10.0, retries: int = 1) -> list[dict[str, Any]]:
            """Send and wait for completion; an uplink frame lost to the channel is re-sent, as operators do."""
            for attempt in range(retries):
                cid = gs.send(name, args or {}, at=at)
                try:
                    stages = gs.wait(cid, "completed", timeout_s=timeout_s)
                except CommandTimeout:
                    if attempt + 1 == retries:
                        raise
                    echo(f"  {name}: no answer in {timeout_s:g} s, sending again")
                    continue
                echo(f"  {name}{' ' + str(args) if args else ''}: {_stages(stages)}")
                return stages
            raise AssertionError("unreachable")

        echo("1. ping, and the ADCS to nadir pointing (the imager looks down later)")
        steps["ping"] = command("PING", timeout_s=3, retries=5)
        nadir = gs.send("ADCS_SET_MODE", {"MODE": "NADIR"}, confirm=True)  # hazardous: confirmed
        echo("2. housekeeping interval of THERMAL to 1 s")
        steps["hk_interval"] = command("SET_HK_INTERVAL", {"SID": "THERMAL", "INTERVAL": 1})
        echo("3. time reports every 2 s")
        steps["time_rate"] = command("SET_TIME_REPORT_RATE", {"RATE_EXPONENT": 1})
        report = p.until(lambda: [r for r in gs.packets(limit=50, newest=True) if r["service"] == 9],
                         "a time report TM[9,2]")[-1]
        echo(f"  TM[9,2] time report received, on-board time {report['obt']}")
        steps["time_report"] = report
        echo("4. a ping time-tagged 4 s ahead (TC[11,4])")
        release = time.time() + 4
        cid = gs.send("PING", {}, at=release)
        stages = gs.wait(cid, "completed", timeout_s=15)
        fired = next(s for s in stages if s["stage"] == "completed" and s.get("of") == "tc")
        echo(f"  {_stages(stages)}; released and completed {fired['time_ns'] / 1e9 - release:+.2f} s "
             f"from its release time")
        steps["time_tagged"] = {"stages": stages, "release": release, "completed_s": fired["time_ns"] / 1e9}
        echo("5. heater set point to 40 degC (soft limit 30 degC)")
        steps["set_parameter"] = command("SET_HEATER_SETPOINT", {"VALUE": 40})
        alarm = p.until(lambda: [a for a in gs.alarms(names=["HEATER_SETPOINT"]) if a["state"] == "raised"],
                        "the HEATER_SETPOINT alarm")[-1]
        echo(f"  ALARM raised: HEATER_SETPOINT {alarm['eng']} {alarm['unit']} level {alarm['level']}")
        steps["alarm"] = alarm
        command("SET_HEATER_SETPOINT", {"VALUE": 15})
        cleared = p.until(lambda: [a for a in gs.alarms(names=["HEATER_SETPOINT"]) if a["state"] == "cleared"],
                          "the HEATER_SETPOINT alarm to clear")[-1]
        echo(f"  alarm cleared at {cleared['eng']} {cleared['unit']}")
        steps["alarm_cleared"] = cleared
        echo("6. imager capture while the imager is off (fails on purpose)")
        cid = gs.send("IMAGER_CAPTURE", {"EXPOSURE": 50})
        try:
            gs.wait(cid, "completed", timeout_s=10)
            steps["failure"] = None
            echo("  UNEXPECTED: the capture completed")
        except CommandFailed as e:
            steps["failure"] = e.failed
            echo(f"  {_stages(e.stages)}")

        echo("7. the payload: an image for playback, then one analysed on board")
        gs.wait(nadir, "completed", timeout_s=10)
        command("PAYLOAD_POWER", {"STATE": "ON"})
        pointing = p.until(lambda: [r for r in gs.parameters(names=["ADCS_POINTING_ERROR"], limit=1, newest=True)
                                    if 0 < r["eng"] < 1.0], "the ADCS pointing within 1 deg of nadir",
                           timeout_s=90)[0]
        echo(f"  ADCS pointing {pointing['eng']:.3f} deg from nadir")
        command("SET_ANALYSIS_ENABLED", {"VALUE": "OFF"})
        command("IMAGER_CAPTURE", {"EXPOSURE": 20})
        command("SET_ANALYSIS_ENABLED", {"VALUE": "ON"})
        t_capture = time.time()
        command("IMAGER_CAPTURE", {"EXPOSURE": 20})
        detections = p.until(lambda: gs.events(kind="detection", limit=50), "the detections", timeout_s=30)
        waiting = [r for r in gs.packets(names=["IMAGE_PART"], limit=10_000)]
        echo(f"  {len(detections)} detections on the ground {detections[0]['ert_ns'] / 1e9 - t_capture:.2f} s "
             f"after the capture command, while the first image was still coming down "
             f"({len(waiting)} of its parts so far):")
        for e in detections[:6]:
            echo(f"    {e['severity']:<6} {e['text']}")
        steps["detections"] = detections
        steps["parts_before_last_detection"] = len(waiting)

        cop1 = gs.cop1()["status"]
        steps["cop1"] = cop1
        clcw = cop1["last_clcw"] or {}
        echo(f"COP-1: {cop1['commands_delivered']} commands delivered by AD, {cop1['ad_frames']} AD frames sent, "
             f"{cop1['ad_retransmissions']} of them retransmissions, {cop1['commands_failed']} given up, "
             f"{cop1['sdls_protected']} frames SDLS-protected; "
             f"V(S) {cop1['v_s']}, last CLCW V(R) {clcw.get('report_value')} retransmit "
             f"{int(bool(clcw.get('retransmit')))}, alerts {cop1['alerts'] or 'none'}")
        counters = gs.counters()
        outcome["counters"] = counters
        d, st, up = counters["downlink"], counters["station"], counters["uplink"]
        echo("summary:")
        if st["radio_frames"]:
            coded = (f"{st['radio_frames']} frames decoded by the radio (gr-satellites), "
                     f"{st['radio_rs_corrected']} RS symbols it corrected")
        else:
            coded = f"{d['cadus']} CADUs, {d['rs_corrected']} RS symbols corrected, {d['rs_uncorrectable']} uncorrectable"
        echo(f"  downlink: {coded}, {d['frames']} frames ({d['idle_frames']} idle), {d['frame_gaps']} frame gaps, "
             f"{d['packets']} packets {d['packets_by_apid']}, {d['packet_gaps']} sequence gaps, "
             f"{d['crc_errors']} CRC errors")
        echo(f"  station: {st['parameters']} parameter values, {st['onboard_events']} on-board events, "
             f"{st['verification_reports']} verification reports, {st['alarms_raised']} alarms raised, "
             f"{st['alarms_cleared']} cleared; uplink: {up['commands_sent']} commands, {up['cltus_sent']} CLTUs "
             f"first sent, {up['clcws']} CLCWs heard")
    outcome["exit_codes"] = dict(p.exit_codes)
    outcome["elapsed_s"] = time.monotonic() - t_start
    echo(f"stopped all processes after {outcome['elapsed_s']:.1f} s; archive {p.archive}, "
         f"recording {p.recording} (try: ttc decode {p.recording})")
    return outcome
