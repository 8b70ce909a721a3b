"""`ttc db list|show|export`: the mission dictionary as an operator and another tool read it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from groundstation.cli import main
from protocol.mission import MISSION


def ttc(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["db", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_list_names_every_declaration() -> None:
    code, out = ttc("list")
    assert code == 0
    for name in [*MISSION.commands, *(tm.name for tm in MISSION.telemetry.values()),
                 *(e.name for e in MISSION.events.values())]:
        assert name in out
    assert "TC[17,1]" in out and "TM[3,25] SID 1" in out and f"spacecraft ID {MISSION.scid}" in out


def test_show_command_with_arguments_ranges_units_and_defaults() -> None:
    code, out = ttc("show", "set_hk_interval")
    assert code == 0
    assert "command SET_HK_INTERVAL: TC[3,31] to APID 0x010" in out
    assert "INTERVAL" in out and "1..3600 s" in out and "required" in out
    assert "N" in out and "fixed 1" in out
    assert "POWER (1) | THERMAL (2) | OBC (3)" in out  # the SID enumeration
    code, out = ttc("show", "IMAGER_CAPTURE")
    assert "1..2000 ms" in out and "default 20" in out


def test_show_telemetry_parameter_and_event() -> None:
    code, out = ttc("show", "HK_POWER")
    assert code == 0 and "telemetry HK_POWER: TM[3,25] SID 1" in out
    assert "BATTERY_VOLTAGE" in out and "[V]" in out and "polynomial 0, 0.001" in out
    assert "soft 6.8..8.4, hard 6.4..8.6" in out and "states 0=NO, 1=YES" in out
    code, out = ttc("show", "heater_setpoint")
    assert code == 0 and "parameter HEATER_SETPOINT (in HK_THERMAL; on-board parameter 0x0101 (settable))" in out
    code, out = ttc("show", "BATTERY_LOW")
    assert code == 0 and "event BATTERY_LOW: ID 0x0100, severity MEDIUM (reported as TM[5,3])" in out


@pytest.mark.parametrize(("typo", "suggestion"), [("PNIG", "PING"), ("HK_POWR", "HK_POWER"),
                                                  ("BATTERY_VOLTGE", "BATTERY_VOLTAGE")])
def test_unknown_name_suggests(typo: str, suggestion: str) -> None:
    code, out = ttc("show", typo)
    assert code == 1
    assert "is not in the mission dictionary" in out and "did you mean" in out and suggestion in out


def test_unknown_name_without_neighbours_points_to_list() -> None:
    code, out = ttc("show", "XYZZY_QWERTY")
    assert code == 1 and "ttc db list" in out


def test_export_json_is_the_documented_schema(tmp_path: Path) -> None:
    code, out = ttc("export", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data == json.loads(json.dumps(MISSION.to_json()))
    assert data["format"] == "ttc-mission-dictionary" and data["version"] == 2
    assert {c["name"] for c in data["commands"]} == set(MISSION.commands)
    code, _ = ttc("export", "-o", str(tmp_path / "dict.json"))
    assert code == 0 and json.loads((tmp_path / "dict.json").read_text()) == data
    # every top-level key is documented in docs/dictionary.md
    doc = (Path(__file__).resolve().parents[2] / "docs" / "dictionary.md").read_text()
    assert all(f"`{key}`" in doc for key in data)


def test_db_as_a_real_process() -> None:
    out = subprocess.run([sys.executable, "-m", "groundstation.cli", "db", "show", "PNIG"], capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 1 and "did you mean PING?" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run([sys.executable, "-m", "groundstation.cli", "db", "export", "--format", "xml"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2 and "json" in out.stderr


EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "example-3u.toml"


def _ttc_root(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_mission_option_selects_the_dictionary_of_every_db_command() -> None:
    code, out = _ttc_root("--mission", str(EXAMPLE), "db", "list")
    assert code == 0 and "Example 3U technology demonstrator, spacecraft ID 341" in out
    assert "HK_EPS" in out and "HK_POWER" not in out
    code, out = _ttc_root("--mission", str(EXAMPLE), "db", "show", "BATTERY_VOLTAGE")
    assert code == 0 and "u16" in out
    code, out = _ttc_root("db", "list")  # the next command line is back to the reference satellite
    assert code == 0 and "HK_POWER" in out


def test_bad_mission_file_is_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.read_text().replace('frame_len = 446', 'frame_len = 447'))
    result = CliRunner().invoke(main, ["--mission", str(bad), "db", "list"])
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "link.downlink" in result.stderr and "447" in result.stderr and "446" in result.stderr


@pytest.mark.parametrize("mission", [None, EXAMPLE], ids=["reference", "example-3u"])
def test_xtce_export_then_import_gives_the_same_dictionary(tmp_path: Path, mission: Path | None) -> None:
    chosen = ["--mission", str(mission)] if mission else []
    xml, toml = tmp_path / "mission.xml", tmp_path / "mission.toml"
    assert _ttc_root(*chosen, "db", "export", "--format", "xtce", "-o", str(xml))[0] == 0
    assert xml.read_text().lstrip().startswith("<?xml") and "http://www.omg.org/spec/XTCE/20180204" in xml.read_text()
    assert _ttc_root("db", "import", str(xml), "-o", str(toml))[0] == 0
    code, original = _ttc_root(*chosen, "db", "export", "--format", "json")
    code2, imported = _ttc_root("--mission", str(toml), "db", "export", "--format", "json")
    assert code == code2 == 0 and json.loads(imported) == json.loads(original)


def test_import_of_something_that_is_not_xtce_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.xml"
    junk.write_text("<notxtce/>")
    result = CliRunner().invoke(main, ["db", "import", str(junk)])
    assert result.exit_code == 1 and "junk.xml" in result.stderr and "Traceback" not in result.stderr
