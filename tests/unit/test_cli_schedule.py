"""``winback schedule`` and :mod:`winback.scheduling`: cron lines and systemd units as text."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from winback.cli.main import cli
from winback.scheduling import (
    HOURLY_CALENDAR,
    UnsupportedCron,
    calendar_for,
    cron_to_oncalendar,
    every_to_cron,
)

CASES = {
    "17 * * * *": "*-*-* *:17:00",
    "*/15 * * * *": "*-*-* *:00/15:00",
    "0 */6 * * *": "*-*-* 00/6:00:00",
    "30 8-18 * * mon-fri": "Mon..Fri *-*-* 08..18:30:00",
    "5,35 9,21 * * *": "*-*-* 09,21:05,35:00",
    "0 3 1 * *": "*-*-01 03:00:00",
    "0 0 * jan,jul 0": "Sun *-01,07-* 00:00:00",
}


@pytest.mark.parametrize(("cron", "calendar"), CASES.items())
def test_cron_to_oncalendar(cron: str, calendar: str) -> None:
    assert cron_to_oncalendar(cron) == calendar


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("calendar", CASES.values())
def test_systemd_accepts_the_calendars(calendar: str) -> None:
    checked = subprocess.run(["systemd-analyze", "calendar", calendar], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("cron", ["0 0 1 * 1", "0 0 L * *", "0 0 ? * *", "0 0 * * 1#2", "61 * * * *"])
def test_unsupported_cron_falls_back_to_hourly_with_a_reason(cron: str) -> None:
    with pytest.raises(UnsupportedCron):
        cron_to_oncalendar(cron)
    calendar, note = calendar_for(cron)
    assert calendar == HOURLY_CALENDAR
    assert note is not None and cron in note and "hourly" in note


@pytest.mark.parametrize(
    ("every", "cron"),
    [("1h", "17 * * * *"), ("15m", "*/15 * * * *"), ("60m", "17 * * * *"), ("6h", "17 */6 * * *"), ("1d", "17 3 * * *")],
)
def test_every_to_cron(every: str, cron: str) -> None:
    assert every_to_cron(every) == cron


@pytest.mark.parametrize("every", ["7m", "5h", "2d", "soon", "0h"])
def test_every_rejects_uneven_intervals(every: str) -> None:
    with pytest.raises(ValueError):
        every_to_cron(every)


def _config(directory: Path, name: str, cron: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.toml"
    text = f'[store]\nplatform = "shopify"\nshop = "{name}"\naccess_token = "${{UNSET_TOKEN_{name.upper()}}}"\n'
    if cron:
        text += f'\n[schedule]\ncron = "{cron}"\n'
    path.write_text(text, encoding="utf-8")
    return path


def _units(output: str) -> dict[str, str]:
    """``# --- <where>/<name> ---`` sections of the output by file name."""
    parts = re.split(r"^# --- (.+?) ---$", output, flags=re.MULTILINE)
    return {Path(header.split(":")[0]).name: body for header, body in zip(parts[1::2], parts[2::2])}


def _ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def test_one_job_for_a_directory_that_agrees(tmp_path: Path) -> None:
    configs = tmp_path / "clients"
    _config(configs, "acme")
    _config(configs, "beta")
    (configs / "beta.secrets.toml").write_text('token = "x"\n', encoding="utf-8")

    result = CliRunner().invoke(cli, ["schedule", "--config-dir", str(configs)])
    assert result.exit_code == 0, result.output

    cron_lines = [line for line in result.output.splitlines() if line and not line.startswith("#") and "flock" in line]
    assert len(cron_lines) == 1
    line = cron_lines[0]
    assert line.startswith("17 * * * * flock -n ")
    assert f"--quiet run --config-dir {configs.resolve()} >>" in line
    assert line.endswith(f">> {configs.resolve() / 'winback.log'} 2>&1")
    executable = line.split()[8]
    assert Path(executable).is_absolute() and Path(executable).exists()

    units = _units(result.output)
    service = _ini(units["winback.service"])
    assert service["Service"]["Type"] == "oneshot"
    assert "User" not in service["Service"]
    exec_start = service["Service"]["ExecStart"].split()
    assert Path(exec_start[0]).is_absolute() and exec_start[1:] == ["--quiet", "run", "--config-dir", str(configs.resolve())]
    timer = _ini(units["winback.timer"])
    assert timer["Timer"]["OnCalendar"] == "*-*-* *:17:00"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["RandomizedDelaySec"]
    assert timer["Timer"]["Unit"] == "winback.service"
    assert timer["Install"]["WantedBy"] == "timers.target"
    assert "systemctl --user daemon-reload" in result.output


def test_config_cron_wins_over_every_and_user_gives_system_units(tmp_path: Path) -> None:
    configs = tmp_path / "clients"
    _config(configs, "acme", "*/15 8-18 * * 1-5")
    _config(configs, "beta", "*/15 8-18 * * 1-5")

    result = CliRunner().invoke(cli, ["schedule", "--config-dir", str(configs), "--every", "6h", "--user", "winback"])
    assert result.exit_code == 0, result.output
    assert "\n*/15 8-18 * * 1-5 winback flock -n " in result.output
    units = _units(result.output)
    assert _ini(units["winback.service"])["Service"]["User"] == "winback"
    assert _ini(units["winback.timer"])["Timer"]["OnCalendar"] == "Mon..Fri *-*-* 08..18:00/15:00"
    assert "/etc/systemd/system/winback.timer" in result.output
    assert "systemctl daemon-reload" in result.output


def test_different_crons_give_one_job_per_config(tmp_path: Path) -> None:
    configs = tmp_path / "clients"
    _config(configs, "acme", "0 0 1 * 1")
    _config(configs, "beta")

    result = CliRunner().invoke(cli, ["schedule", "--config-dir", str(configs), "--every", "30m"])
    assert result.exit_code == 0, result.output
    assert f"--quiet run --config {configs.resolve() / 'acme.toml'} >>" in result.output
    assert "\n*/30 * * * * flock -n " in result.output
    units = _units(result.output)
    assert set(units) >= {"winback-acme.service", "winback-acme.timer", "winback-beta.service", "winback-beta.timer"}
    acme_timer = units["winback-acme.timer"]
    assert "# cron '0 0 1 * 1' has no systemd equivalent" in acme_timer
    assert _ini(acme_timer)["Timer"]["OnCalendar"] == HOURLY_CALENDAR
    assert _ini(units["winback-beta.timer"])["Timer"]["OnCalendar"] == "*-*-* *:00,30:00"


def test_bad_every_and_bad_cron_are_reported(tmp_path: Path) -> None:
    configs = tmp_path / "clients"
    _config(configs, "acme")
    bad_every = CliRunner().invoke(cli, ["schedule", "--config-dir", str(configs), "--every", "7m"])
    assert bad_every.exit_code == 2 and "--every" in bad_every.output

    _config(configs, "beta", "every hour")
    bad_cron = CliRunner().invoke(cli, ["schedule", "--config-dir", str(configs)])
    assert bad_cron.exit_code == 2
    assert "beta.toml" in bad_cron.output and "5 fields" in bad_cron.output
