from __future__ import annotations

from pathlib import Path

import pytest

from lake.errors import ConfigError
from lake.settings import Settings, get_settings


def test_defaults_live_under_home(tmp_path: Path) -> None:
    s = Settings(home=tmp_path)
    assert s.storage_uri == str(tmp_path / "lake")
    assert s.database_url == f"sqlite:///{tmp_path / 'catalog.db'}"
    assert s.master_key_file == tmp_path / "master.key"
    assert not s.is_s3 and s.engine.master == "local[*]"


def test_environment_variables_are_read_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAKEGATE_HOME", str(tmp_path))
    monkeypatch.setenv("LAKEGATE_STORAGE_URI", "s3://bucket/lake")
    monkeypatch.setenv("LAKEGATE_KMS_KEY_IDS", '{"ads": "key-1"}')
    monkeypatch.setenv("LAKEGATE_SPARK_REMOTE", "sc://spark:15002")
    get_settings.cache_clear()
    s = get_settings()
    assert s.is_s3 and s.kms_key_ids == {"ads": "key-1"} and s.engine.remote == "sc://spark:15002"
    monkeypatch.setenv("LAKEGATE_STORAGE_URI", "/elsewhere")
    assert get_settings() is s  # cached until cleared


def test_production_refuses_unsafe_defaults(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SQLite"):
        Settings(home=tmp_path, production=True, storage_uri="s3://b/p")
    with pytest.raises(ConfigError, match="local directory"):
        Settings(home=tmp_path, production=True, database_url="postgresql+psycopg://u@h/db")
    ok = Settings(home=tmp_path, production=True, storage_uri="s3://b/p",
                  database_url="postgresql+psycopg://u:secret@h/db")
    assert "secret" not in str(ok.redacted())


def test_spark_memory_settings_are_sizes(tmp_path: Path) -> None:
    s = Settings(home=tmp_path, spark_driver_memory=" 2g ", spark_max_result_size="0")
    assert s.engine.driver_memory == "2g" and s.engine.max_result_size == "0"
    assert Settings(home=tmp_path).engine.max_result_size == "512m"
    with pytest.raises(ValueError, match="not a size"):
        Settings(home=tmp_path, spark_driver_memory="lots")
    jars = Settings(home=tmp_path, spark_jars_dir=Path("~/jars")).engine.jars_dir
    assert jars is not None and not str(jars).startswith("~")
