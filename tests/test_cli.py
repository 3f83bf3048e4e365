"""The `modax` command line: exit codes, formats, housekeeping commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import payloads
import pytest

from modax.pipeline import Pipeline

NOW = 1_763_900_000_000
ENV = dict(os.environ)
RETENTION = "MODAX_VACUUM_RETENTION_H"


def modax(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "modax", *args], capture_output=True, text=True, env=env
    )


def fill_lake(lake_dir: Path) -> Path:
    """A ``telemetry`` table of 30 readings of two devices in three commits (versions 0-2)."""
    pipeline = Pipeline(lake_dir)
    for batch in range(3):
        readings = [
            payloads.telemetry(
                f"m{i % 2}",
                batch * 10 + i,
                timestamp=NOW + (batch * 10 + i) * 100,
                temperatures=(35.0,),
                vibration=(0.0, 0.0, 9.8, 9.8),
            )
            for i in range(10)
        ]
        pipeline.process(
            [f"modax/devices/m{i % 2}/telemetry" for i in range(10)], readings, [NOW] * 10
        )
    return lake_dir


@pytest.fixture
def filled_lake(lake_dir: Path) -> Path:
    return fill_lake(lake_dir)


def test_query_formats(filled_lake):
    sql = "select device_id, count(*) as n from telemetry group by 1 order by 1"
    as_json = json.loads(modax("query", sql, "--lake", str(filled_lake), "--format", "json").stdout)
    assert as_json == [{"device_id": "m0", "n": 15}, {"device_id": "m1", "n": 15}]
    as_csv = modax("query", sql, "--lake", str(filled_lake), "--format", "csv").stdout
    assert as_csv.splitlines() == ["device_id,n", "m0,15", "m1,15"]
    assert "m0" in modax("query", sql, "--lake", str(filled_lake)).stdout


def test_bad_sql_is_a_one_line_error(filled_lake):
    proc = modax("query", "select nope from telemetry", "--lake", str(filled_lake))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "query failed" in proc.stderr


def test_invalid_setting_exits_3_naming_it(filled_lake):
    proc = modax("config", env={"MODAX_BROKER": "http://nope", "PATH": ""})
    assert proc.returncode == 3
    assert "MODAX_BROKER" in proc.stderr


def test_config_masks_the_password():
    proc = modax("config", env={"MODAX_MQTT_USERNAME": "u", "MODAX_MQTT_PASSWORD": "topsecret"})
    assert proc.returncode == 0
    assert "topsecret" not in proc.stdout
    assert json.loads(proc.stdout)["mqtt_password"] == "***"


def test_export_writes_a_self_contained_duckdb(filled_lake, tmp_path):
    target = tmp_path / "fleet.duckdb"
    assert modax("export", "--duckdb", str(target), "--lake", str(filled_lake)).returncode == 0
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.sql("select count(*) from telemetry").fetchall() == [(30,)]
    assert modax("export", "--duckdb", str(target), "--lake", str(filled_lake)).returncode == 1
    second = tmp_path / "again.duckdb"
    result = modax("export", "--duckdb", str(second), "--lake", str(filled_lake), "--format=json")
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["file"] == str(second) and report["rows"]["telemetry"] == 30


def test_compact_and_retention(filled_lake):
    files_before = len(list((filled_lake / "telemetry").rglob("*.parquet")))
    proc = modax("compact", "telemetry", "--lake", str(filled_lake))
    assert proc.returncode == 0, proc.stderr
    assert "0 deleted" in proc.stdout  # replaced files stay 7 days for readers
    assert len(list((filled_lake / "telemetry").rglob("*.parquet"))) == files_before + 1
    proc = modax("compact", "--vacuum-retention-h", "0", "--lake", str(filled_lake))
    assert f"telemetry: 0 files → 0, {files_before} deleted" in proc.stdout
    assert len(list((filled_lake / "telemetry").rglob("*.parquet"))) == 1
    bad = modax("compact", "--lake", str(filled_lake), env=ENV | {RETENTION: "week"})
    assert bad.returncode == 3 and "MODAX_VACUUM_RETENTION_H='week'" in bad.stderr
    assert modax("compact", "nosuch", "--lake", str(filled_lake)).returncode == 1
    proc = modax("retention", "--days", "0", "--lake", str(filled_lake))
    assert proc.returncode == 0
    assert "telemetry: 30 rows deleted" in proc.stdout


def test_every_command_module_is_registered():
    import re
    import sys

    import modax.cli

    folder = Path(modax.cli.__file__).parent
    registers = re.compile(r"^(@\w*app\.command|app\.add_typer)", re.MULTILINE)
    modules = {p.stem for p in folder.glob("_*.py") if registers.search(p.read_text())}
    assert len(modules) >= 10
    assert {m for m in modules if f"modax.cli.{m}" not in sys.modules} == set()
    assert {"demo", "simulate", "ingest", "broker", "replay", "query", "export"} <= {
        c.name for c in modax.cli.app.registered_commands
    }


def test_public_surface_is_pinned():
    import modax.cli

    assert sorted(modax.cli.__all__) == ["app", "build_pipeline", "main", "missing_requirements"]


#: What `modax --help` must not load: each costs a tenth of a second or more at start.
HEAVY = ("numba", "pandas", "duckdb", "deltalake", "panel", "holoviews", "sklearn", "pyarrow")


def test_importing_the_cli_loads_no_heavy_library():
    probe = (
        "import sys, modax, modax.cli, modax.config; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_modax_connect_still_loads_on_first_use():
    probe = "import modax; print(modax.connect.__module__)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "modax.lake._connect"


def test_version_and_completion():
    from modax import __version__

    version = modax("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"modax {__version__}"
    assert "--install-completion" in modax("--help").stdout


def test_simulate_reports_with_format_json(lake_dir: Path):
    args = ("simulate", "--devices", "2", "--duration", "2s", "--lake", str(lake_dir))
    result = modax(*args, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["rows_written"]["telemetry"] == 40


def test_the_dashboards_ship_inside_the_package():
    """`modax dashboards` serves scripts inside `modax`, so a wheel install serves them too."""
    import modax
    from modax.cli._dashboards import panel_command

    package = Path(modax.__file__).parent
    scripts = [Path(arg) for arg in panel_command(5006, "127.0.0.1", []) if arg.endswith(".py")]
    assert [script.stem for script in scripts] == ["fleet", "device", "lab"]
    for script in scripts:
        assert script.is_file() and package in script.parents, script
        # setuptools' `packages.find` (pyproject.toml) ships only folders with an __init__.py
        assert (script.parent / "__init__.py").is_file()
