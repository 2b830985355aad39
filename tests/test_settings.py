"""The settings object: one parse of the environment, the old spellings still understood, a bad value
refused with its variable named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from roster.runtime.settings import Settings, SettingsError, file_limits, get_settings

ROOT = Path(__file__).resolve().parents[1]
BOOLEANS = [name for name, f in Settings.model_fields.items() if f.annotation in (bool, "bool")]


def test_a_bad_value_is_refused_with_the_variable_named(monkeypatch):
    monkeypatch.setenv("ROSTER_STUCK_RUN_SECONDS", "abc")
    with pytest.raises(SettingsError, match=r"ROSTER_STUCK_RUN_SECONDS='abc': input should be a valid integer"):
        get_settings()
    monkeypatch.setenv("ROSTER_STUCK_RUN_SECONDS", "0")
    with pytest.raises(ValueError, match=r"ROSTER_STUCK_RUN_SECONDS='0': input should be greater than 0"):
        get_settings()
    monkeypatch.setenv("ROSTER_LANDING", "s3")
    with pytest.raises(
        SettingsError, match=r"ROSTER_LANDING='s3': input should be 'folder' or 'postgres'; ROSTER_STUCK_RUN_SECONDS='0'"
    ):
        get_settings()  # every bad one at once


@pytest.mark.parametrize("raw", ["1", "true", "yes", "on", "TRUE", " Yes", "On", "t", "y"])
def test_every_old_spelling_of_true_is_true(monkeypatch, raw):
    assert len(BOOLEANS) >= 5
    for name, f in Settings.model_fields.items():
        if name in BOOLEANS:
            monkeypatch.setenv(str(f.alias), raw)
    settings = get_settings()
    assert {name: getattr(settings, name) for name in BOOLEANS} == dict.fromkeys(BOOLEANS, True)


@pytest.mark.parametrize("raw", ["0", "false", "no", "off", "False", " NO "])
def test_every_spelling_of_false_is_false(monkeypatch, raw):
    for name, f in Settings.model_fields.items():
        if name in BOOLEANS:
            monkeypatch.setenv(str(f.alias), raw)
    settings = get_settings()
    assert {name: getattr(settings, name) for name in BOOLEANS} == dict.fromkeys(BOOLEANS, False)


def test_a_yes_no_setting_that_is_neither_is_refused(monkeypatch):
    # Before, each reader took a word it did not know as "no" (or, for one, as "yes").
    monkeypatch.setenv("ROSTER_WEBHOOKS_ALLOW_PRIVATE_URLS", "sure")
    with pytest.raises(SettingsError, match="ROSTER_WEBHOOKS_ALLOW_PRIVATE_URLS='sure': input should be a valid boolean"):
        get_settings()


def test_an_empty_variable_is_unset_and_spaces_are_ignored(monkeypatch):
    monkeypatch.setenv("ROSTER_BATCH_ROWS", "")
    monkeypatch.setenv("ROSTER_MAX_COLUMNS", " 30 ")
    monkeypatch.setenv("ROSTER_LANDING", "Postgres")
    settings = get_settings()
    assert (settings.batch_rows, settings.max_columns, settings.landing) == (50_000, 30, "postgres")
    assert file_limits().max_columns == 30


def test_read_once_and_again_when_the_environment_changes(monkeypatch):
    first = get_settings()
    assert get_settings() is first  # not parsed again
    monkeypatch.setenv("ROSTER_KEEP_UPLOADS_HOURS", "0.5")
    changed = get_settings()
    assert changed is not first and changed.keep_uploads_hours == 0.5
    assert get_settings() is changed
    monkeypatch.delenv("ROSTER_KEEP_UPLOADS_HOURS")
    assert get_settings().keep_uploads_hours == 24


def test_a_relative_data_dir_is_taken_against_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("ROSTER_DATA_DIR", "data")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert get_settings().data_dir == tmp_path / "data"
    assert get_settings().dagster_home == tmp_path / "data" / "dagster"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert get_settings().data_dir == tmp_path / "elsewhere" / "data"


def test_secrets_stay_out_of_the_settings_repr(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("ROSTER_SESSION_SECRET", "also-secret")
    settings = get_settings()
    assert "secret" not in repr(settings).replace("session_secret", "")
    assert settings.openai_api_key is not None and settings.openai_api_key.get_secret_value() == "sk-very-secret"


def _import_leases(**env: str) -> subprocess.CompletedProcess:
    code = "import roster.store.leases as l; print(l.STUCK_SECONDS, l.RUN_LOCK_TIMEOUT)"
    return subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_a_setting_kept_in_a_constant_is_read_when_its_module_is_imported():
    out = _import_leases(ROSTER_STUCK_RUN_SECONDS="90", ROSTER_LOCK_TIMEOUT_SECONDS="7")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["90", "7s"]
    bad = _import_leases(ROSTER_STUCK_RUN_SECONDS="abc")
    assert bad.returncode != 0
    assert "SettingsError: bad setting: ROSTER_STUCK_RUN_SECONDS='abc'" in bad.stderr
