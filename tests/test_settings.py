from __future__ import annotations

from pathlib import Path

import pytest

from hotline.settings import DEFAULT_SECRET, ConfigError, Env, load_settings

SAMPLE = Path(__file__).resolve().parents[1] / "config" / "hotline.sample.yaml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("HOTLINE_"):
            monkeypatch.delenv(key)


def test_defaults_are_embedded() -> None:
    s = load_settings()
    assert s.env is Env.development
    assert s.database_url == "" and s.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert s.resolved_database_url.endswith("data/hotline.sqlite3")
    assert s.resolved_read_url == s.resolved_database_url  # no replica: reports read the primary
    assert s.redis_url == ""
    assert s.resolved_recordings_dir == Path("data/recordings").resolve()


def test_paths_are_absolute_at_load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Recording paths go into the database: every process must store the same absolute one,
    whatever its working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOTLINE_DATA_DIR", "d")
    s = load_settings()
    assert s.data_dir == tmp_path / "d" and s.resolved_recordings_dir == tmp_path / "d/recordings"
    monkeypatch.setenv("HOTLINE_RECORDINGS_DIR", "rec")
    assert load_settings().resolved_recordings_dir == tmp_path / "rec"


def test_sample_config_has_three_cities_with_partners(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_CONFIG", str(SAMPLE))
    s = load_settings()
    assert [c.name for c in s.cities] == ["xa", "xy", "bj"]
    assert s.city("xa").partners == ["xy", "bj"]
    assert s.city("xy").ami.port == 5039
    assert s.city("bj").label == "宝鸡"


def test_environment_beats_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_CONFIG", str(SAMPLE))
    monkeypatch.setenv("HOTLINE_API__PORT", "9001")
    monkeypatch.setenv("HOTLINE_REDIS_URL", "redis://127.0.0.1:6379/3")
    s = load_settings()
    assert s.api.port == 9001
    assert s.redis_url == "redis://127.0.0.1:6379/3"


def test_unknown_partner_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("cities:\n  - {name: xa, partners: [nowhere]}\n")
    monkeypatch.setenv("HOTLINE_CONFIG", str(cfg))
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "unknown partner city 'nowhere'" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("HOTLINE_DATABASE_URL", "mysql://x", "scheme must be one of sqlite, postgresql"),
        ("HOTLINE_DATABASE_URL", "postgresql://", "has no host"),
        ("HOTLINE_DATABASE_READ_URL", "mysql://x", "scheme must be one of sqlite, postgresql"),
        ("HOTLINE_REDIS_URL", "redis://host:notaport/0", "Port could not be cast"),
        ("HOTLINE_REDIS_URL", "http://x", "scheme must be one of redis"),
        ("HOTLINE_ENV", "staging", "env: Input should be 'development' or 'production'"),
    ],
)
def test_malformed_values(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=expected):
        load_settings()


def test_production_refuses_default_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_CONFIG", str(SAMPLE))
    monkeypatch.setenv("HOTLINE_ENV", "production")
    with pytest.raises(ConfigError) as info:
        load_settings()
    msg = str(info.value)
    assert "secret_key" in msg and "cities[xa].ami.secret" in msg


def test_production_with_real_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("cities:\n  - {name: xa, ami: {secret: s3cret-for-xa}}\n")
    monkeypatch.setenv("HOTLINE_CONFIG", str(cfg))
    monkeypatch.setenv("HOTLINE_ENV", "production")
    monkeypatch.setenv("HOTLINE_SECRET_KEY", "x" * 32)
    s = load_settings()
    assert s.secret_key != DEFAULT_SECRET


def test_ami_secret_with_newline_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text('cities:\n  - {name: xa, ami: {secret: "a\\r\\nAction: Originate"}}\n')
    monkeypatch.setenv("HOTLINE_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match="no CR, LF or NUL"):
        load_settings()


def test_missing_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_CONFIG", "/nonexistent/hotline.yaml")
    with pytest.raises(ConfigError, match="no such file"):
        load_settings()


def test_holiday_file_is_read_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).resolve().parents[1] / "config" / "holidays.example.yaml"
    monkeypatch.setenv("HOTLINE_HOLIDAYS_FILE", str(example))
    assert load_settings().holidays_file == example
    bad = tmp_path / "holidays.yaml"
    bad.write_text("2030:\n  holidays: [2031-01-01]\n", encoding="utf-8")
    monkeypatch.setenv("HOTLINE_HOLIDAYS_FILE", str(bad))
    with pytest.raises(ConfigError, match=r"holidays\.yaml: 2031-01-01 listed under year 2030"):
        load_settings()
