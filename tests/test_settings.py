"""Settings come from defaults, a TOML file and ONEBAR_* variables, in that order."""

import pytest

from onebar import settings as settings_mod
from onebar.exc import ConfigError


def test_toml_then_environment_override(tmp_path):
    (tmp_path / "onebar.toml").write_text('cookie_name = "from_toml"\nsession_max_age = 600\ncookie_secure = true\n')
    s = settings_mod.load({"ONEBAR_SESSION_MAX_AGE": "900"}, data_dir=tmp_path)
    assert (s.cookie_name, s.session_max_age, s.cookie_secure) == ("from_toml", 900, True)
    assert s.database == tmp_path / "onebar.sqlite3"


def test_keys_from_environment_oldest_first(tmp_path):
    s = settings_mod.load({"ONEBAR_SECRET_KEYS": "old-key, new-key"}, data_dir=tmp_path)
    assert s.secret_keys == ("old-key", "new-key") and s.keys_from_config
    assert not (tmp_path / "secret_keys.json").exists()
    assert "new-key" not in repr(s), "keys never appear in a repr (or a log line)"


@pytest.mark.parametrize(
    "env,words",
    [
        ({"ONEBAR_COOKIE_SECURE": "maybe"}, "true or false"),
        ({"ONEBAR_SESSION_MAX_AGE": "two weeks"}, "whole number"),
        ({"ONEBAR_PUBLIC_URL": "ftp://id.example.com"}, "public_url"),
        ({"ONEBAR_PUBLIC_URL": "https://id.example.com/path"}, "public_url"),
    ],
)
def test_bad_values_are_clear_errors(tmp_path, env, words):
    with pytest.raises(ConfigError, match=words):
        settings_mod.load(env, data_dir=tmp_path)


def test_unknown_toml_setting_is_named(tmp_path):
    (tmp_path / "onebar.toml").write_text("cookie_nmae = 'typo'\n")
    with pytest.raises(ConfigError, match="cookie_nmae"):
        settings_mod.load({}, data_dir=tmp_path)


def test_broken_toml_is_a_clear_error(tmp_path):
    (tmp_path / "onebar.toml").write_text("cookie_name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        settings_mod.load({}, data_dir=tmp_path)


@pytest.mark.parametrize("url,secure", [("https://id.example.com", True), ("http://localhost:5000", False), (None, False)])
def test_cookie_is_secure_by_default_exactly_when_the_service_is_https(tmp_path, url, secure):
    env = {"ONEBAR_PUBLIC_URL": url} if url else {}
    assert settings_mod.load(env, data_dir=tmp_path).cookie_secure is secure
    assert settings_mod.load({**env, "ONEBAR_COOKIE_SECURE": "true"}, data_dir=tmp_path).cookie_secure is True


def test_database_and_redis_urls_pick_the_engines_and_never_show_their_passwords(tmp_path):
    s = settings_mod.load({"ONEBAR_DATABASE_URL": "postgresql://onebar:pg-secret@db/onebar",
                           "ONEBAR_REDIS_URL": "redis://:redis-secret@cache:6379/0"}, data_dir=tmp_path)
    assert s.uses_postgres and s.redis_url == "redis://:redis-secret@cache:6379/0"
    assert "pg-secret" not in repr(s) and "redis-secret" not in repr(s)
    lite = settings_mod.load({"ONEBAR_DATABASE_URL": f"sqlite:///{tmp_path}/elsewhere.sqlite3"}, data_dir=tmp_path)
    assert not lite.uses_postgres and lite.database == tmp_path / "elsewhere.sqlite3"


@pytest.mark.parametrize("env,words", [
    ({"ONEBAR_DATABASE_URL": "mysql://onebar:pg-secret@db/onebar"}, "database_url must be"),
    ({"ONEBAR_DATABASE_URL": "sqlite://relative.db"}, "database_url must be"),
    ({"ONEBAR_REDIS_URL": "memcached://onebar:pg-secret@cache"}, "redis_url must be"),
    # Unencoded characters that end a URL's host part for urlsplit: the password is still hidden.
    ({"ONEBAR_DATABASE_URL": "mysql://onebar:pg#pg-secret@db/onebar"}, "database_url must be"),
    ({"ONEBAR_DATABASE_URL": "mysql://onebar:pg?pg-secret@db/onebar"}, "database_url must be"),
    ({"ONEBAR_REDIS_URL": "memcached://:pg/pg-secret@cache:6379/0"}, "redis_url must be"),
    # A password in the query (libpq and redis-py take ?password=) that holds an @.
    ({"ONEBAR_DATABASE_URL": "mysql:///onebar?host=/run/mysqld&password=pg-secret@x"}, "database_url must be"),
    ({"ONEBAR_REDIS_URL": "memcached:///run/cache.sock?password=x@pg-secret"}, "redis_url must be"),
    ({"ONEBAR_DATABASE_URL": "mysql://onebar:pw@db/onebar?password=x@pg-secret"}, "database_url must be"),
], ids=["mysql", "sqlite-without-path", "not-redis", "hash-in-password", "question-mark-in-password",
        "slash-in-password", "at-in-query-password", "at-in-socket-query-password", "at-in-query-and-userinfo"])
def test_unknown_database_or_redis_urls_are_refused_with_the_password_masked(tmp_path, env, words):
    with pytest.raises(ConfigError, match=words) as caught:
        settings_mod.load(env, data_dir=tmp_path)
    assert "pg-secret" not in str(caught.value)
