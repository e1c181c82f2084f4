"""Settings: flags > environment > config.toml > defaults; secrets never in repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.config import Settings, load_settings
from runbook.errors import ConfigError

KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLXNpZw"


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_flags_beat_environment_which_beats_the_file(tmp_path: Path) -> None:
    cfg = write_toml(
        tmp_path,
        'dsn = "postgresql://file@h/db"\napi_url = "http://file:3000"\nchannel = "from_file"\n'
        "verify_deadline = 12\n",
    )
    env = {"DATABASE_URL": "postgresql://env@h/db", "POSTGREST_URL": "http://env:3000"}
    s = load_settings({"dsn": "postgresql://flag@h/db", "api_url": None}, env=env, config_path=cfg)
    assert s.dsn == "postgresql://flag@h/db"
    assert s.api_url == "http://env:3000"
    assert s.channel == "from_file"
    assert s.verify_deadline == 12.0
    assert s.connect_timeout == 5.0  # default


def test_supabase_url_gives_the_rest_root_and_the_service_key(tmp_path: Path) -> None:
    env = {"SUPABASE_URL": "https://abc.supabase.co/", "SUPABASE_SERVICE_ROLE_KEY": KEY}
    s = load_settings({}, env=env, config_path=tmp_path / "none.toml")
    assert s.api_url == "https://abc.supabase.co/rest/v1"
    assert s.api_key == KEY
    s = load_settings({"api_key": "flag-key"}, env=env, config_path=tmp_path / "none.toml")
    assert s.api_key == "flag-key"
    # --api-url and --supabase-url on one level: the explicit REST URL wins.
    s = load_settings(
        {"api_url": "http://x:3000", "supabase_url": "https://abc.supabase.co"},
        env={},
        config_path=tmp_path / "none.toml",
    )
    assert s.api_url == "http://x:3000"


def test_postgrest_environment_names_are_understood(tmp_path: Path) -> None:
    env = {
        "PGRST_DB_CHANNEL": "custom",
        "PGRST_DB_SCHEMAS": "api, public",
        "PGRST_DB_ANON_ROLE": "web_anon",
    }
    s = load_settings({}, env=env, config_path=tmp_path / "none.toml")
    assert (s.channel, s.schemas, s.api_role) == ("custom", ("api", "public"), "web_anon")


def test_an_empty_dsn_leaves_pg_variables_to_libpq(tmp_path: Path) -> None:
    assert load_settings({}, env={"PGHOST": "db"}, config_path=tmp_path / "n.toml").dsn == ""


def test_secrets_are_not_in_repr(tmp_path: Path) -> None:
    s = load_settings(
        {"dsn": "postgresql://app:hunter2-pw@db:5432/app", "api_key": KEY},
        env={},
        config_path=tmp_path / "none.toml",
    )
    text = repr(s) + str(s)
    assert "hunter2-pw" not in text
    assert KEY not in text
    assert "app:***@db:5432/app" in text


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"connect_timeout": 0}, "connect_timeout must be a positive number"),
        ({"reload_method": "signal"}, "unknown reload method"),
        ({"reload_method": "rpc"}, "needs a function name"),
        ({"api_url": "localhost:3000"}, "must start with http"),
        ({"schemas": ""}, "at least one schema"),
    ],
)
def test_bad_values_are_config_errors(tmp_path: Path, flags: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(flags, env={}, config_path=tmp_path / "none.toml")
    assert message in err.value.message
    assert err.value.exit_code == 2


def test_an_unreadable_config_file_is_a_config_error(tmp_path: Path) -> None:
    cfg = write_toml(tmp_path, "dsn = [unclosed")
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({}, env={}, config_path=cfg)


def test_the_config_file_is_found_in_the_xdg_config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "pgrst-runbook").mkdir()
    (tmp_path / "pgrst-runbook" / "config.toml").write_text('admin_url = "http://admin:3001/"\n')
    assert load_settings({}, env={}).admin_url == "http://admin:3001"


def test_with_overrides_validates() -> None:
    with pytest.raises(ConfigError):
        Settings().with_overrides(http_timeout=-1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('channel = "pgrst"\ntimout = 5\n', "config.toml:2: unknown setting 'timout'"),
        ("dsn = 5\n", "config.toml:1: dsn must be a str, got int"),
        ('connect_timeout = "5"\n', "config.toml:1: connect_timeout must be a number"),
        ("verify_deadline = true\n", "verify_deadline must be a number"),
        ("connect_timeout = nan\n", "positive number of seconds, got nan"),
        ("http_timeout = inf\n", "positive number of seconds, got inf"),
        ("journal_dir = 5\n", "config.toml:1: journal_dir must be a str, got int"),
        ('journal_dir = ""\n', "journal_dir must be a folder path"),
        ('[keys]\nrelaod = "ctrl+r"\n', "config.toml:2: [keys] has no action 'relaod'"),
        ("[keys]\nreload = 5\n", "config.toml:2: [keys] reload must be a key name"),
        ('[keys]\nreload = "ctrl+ r!"\n', "[keys] reload must be a key name"),
        ('keys = "ctrl+r"\n', "config.toml:1: keys must be a dict"),
    ],
)
def test_the_config_file_is_validated_key_by_key(tmp_path: Path, text: str, message: str) -> None:
    cfg = write_toml(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings({}, env={}, config_path=cfg)
    assert message in err.value.message
    assert err.value.exit_code == 2  # a usage error, never the 1 that means drift for `check`


def test_a_bad_config_value_is_one_line_and_exit_2_from_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from runbook.cli import main

    monkeypatch.setenv("PGRST_RUNBOOK_CONFIG", str(write_toml(tmp_path, "dsn = 5\n")))
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert "dsn must be a str" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("value", ["5", '""', "[]"])
def test_a_bad_journal_dir_creates_no_folder_and_exits_2(
    value: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from runbook.cli import main

    monkeypatch.setenv("PGRST_RUNBOOK_CONFIG", str(write_toml(tmp_path, f"journal_dir = {value}\n")))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    code = main(["run", "--table", "t", "--column", "c", "--dsn", "postgresql://u@127.0.0.1:1/x", "--dry-run"])
    assert code == 2
    assert "journal_dir" in capsys.readouterr().err
    assert list(work.iterdir()) == []


def test_journal_dir_overrides_are_checked_too() -> None:
    with pytest.raises(ConfigError):
        Settings().with_overrides(journal_dir=5)
    assert Settings().with_overrides(journal_dir="~/j").journal_dir == Path("~/j").expanduser()


def test_the_keys_table_becomes_the_tui_keymap(tmp_path: Path) -> None:
    cfg = write_toml(tmp_path, 'channel = "pgrst"\n[keys]\nreload = "ctrl+r, f5"\nrunbook = "o"\n')
    settings = load_settings({}, env={}, config_path=cfg)
    assert dict(settings.keys) == {"reload": "ctrl+r,f5", "runbook": "o"}
