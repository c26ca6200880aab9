"""The router's settings schema (the ``web:`` section): conversions, errors, and applying it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kata.router
from kata.router import ConfigurationError, Cors, Router, Settings, check


def test_defaults_and_string_conversion():
    assert check({}) == check(None) == Settings()
    settings = check(
        {
            "max_body_size": "65536",
            "max_query_length": "100",
            "allowed_hosts": "example.com, .example.org",
            "trusted_proxies": "127.0.0.1,10.0.0.0/8",
            "access_log": "json",
            "cors": {"allow_origins": "https://a.example", "allow_credentials": "true", "max_age": "600"},
        }
    )
    assert settings.max_body_size == 65536 and settings.max_query_length == 100
    assert settings.allowed_hosts == ["example.com", ".example.org"]
    assert settings.trusted_proxies == ["127.0.0.1", "10.0.0.0/8"]
    assert settings.access_log == "json"
    assert settings.cors == Cors(allow_origins=["https://a.example"], allow_credentials=True, max_age=600)


@pytest.mark.parametrize("off", [False, "off", "false", "", None])
def test_access_log_off_spellings(off):
    # YAML 1.1 reads a bare `off` as False.
    assert check({"access_log": off}).access_log == "off"


@pytest.mark.parametrize(
    ("section", "key", "problem"),
    [
        ({"max_body_sise": 1}, "max_body_sise", "unknown key (did you mean 'max_body_size'?)"),
        ({"zzz": 1}, "zzz", "unknown key (known keys: allowed_hosts, cors"),
        ({"max_body_size": "lots"}, "max_body_size", "Expected `int`, got `str`"),
        ({"max_body_size": -1}, "max_body_size", "Expected `int` >= 0"),
        ({"default_format": "xml"}, "default_format", "Invalid enum value 'xml'"),
        ({"access_log": "yes"}, "access_log", "Invalid enum value 'yes'"),
        ({"trusted_proxies": ["nginx"]}, "trusted_proxies[0]", "'nginx' is not an IP address or network"),
        ({"allowed_hosts": ["https://example.com"]}, "allowed_hosts", "is not a host pattern"),
        ({"allowed_hosts": ["example.com:8000"]}, "allowed_hosts", "is not a host pattern"),
        ({"cors": {"origins": ["*"]}}, "cors.origins", "unknown key (did you mean 'allow_origins'?)"),
        ({"cors": {"max_age": "-5"}}, "cors.max_age", "Expected `int` >= 0"),
        ({"cors": {"allow_origins": ["https://a.example/app"]}}, "cors.allow_origins[0]", "is not an origin"),
        ({"cors": {"allow_origins": ["https://A.example"]}}, "cors.allow_origins[0]", "is not an origin"),
        (
            {"cors": {"allow_origins": ["*", "https://a.example"]}},
            "cors.allow_origins[0]",
            "is not an origin",
        ),
        ({"cors": {"allow_headers": ["X Bad"]}}, "cors.allow_headers[0]", "is not a method or header name"),
        (
            {"cors": {"allow_origins": ["*"], "allow_credentials": True}},
            "cors.allow_credentials",
            "credentials cannot be allowed for every origin",
        ),
        (
            {
                "cors": {
                    "allow_origins": ["https://a.example"],
                    "allow_credentials": True,
                    "expose_headers": ["*"],
                }
            },
            "cors.expose_headers",
            "'*' exposes nothing to credentialed requests",
        ),
        ({"cors": 5}, "cors", "Expected `object | null`, got `int`"),
        ([], "", "expected a mapping of settings, got list"),
    ],
)
def test_errors_name_the_key(section, key, problem):
    with pytest.raises(ConfigurationError) as caught:
        check(section)
    error = caught.value
    assert error.key == key
    assert problem in error.problem
    assert str(error) == (f"web.{key}: {error.problem}" if key else f"web: {error.problem}")
    assert isinstance(error, ValueError)


def test_configure_validates_through_the_schema_and_keeps_the_old_settings_on_error():
    router = Router(max_body_size=10, allowed_hosts=["example.com"])
    with pytest.raises(ConfigurationError, match=r"web\.max_query_length"):
        router.configure(max_query_length="many")
    with pytest.raises(ConfigurationError, match="unknown key"):
        router.configure(max_body=5)
    assert router.settings.max_body_size == 10 and router.options.allowed_hosts == ("example.com",)
    router.configure(max_query_length=5, cors=Cors(allow_origins=["https://a.example"]))
    assert router.settings.max_query_length == 5 and router.settings.max_body_size == 10
    assert router.settings.cors is not None and router.settings.cors.allow_origins == ["https://a.example"]
    router.configure(cors="off")
    assert router.settings.cors is None


def test_initialize_applies_a_whole_section_to_the_default_router():
    default = kata.router.default_router()
    previous = default.settings
    try:
        settings = kata.router.initialize({"max_body_size": "2048", "allowed_hosts": ["*"]})
        assert default.settings == settings and default.options.max_body_size == 2048
        with pytest.raises(ConfigurationError):
            kata.router.initialize({"max_body_size": "x"})
        # A failed initialize leaves the previous configuration working.
        assert default.options.max_body_size == 2048
        kata.router.configure(max_query_length=77)
        assert default.settings.max_query_length == 77
    finally:
        default.apply(previous)


def test_the_readme_options_table_lists_the_schema():
    """The README's table has one row per key, in schema order, starting with the default."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("### Configuration", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", section, re.M)
    assert [key for key, _ in rows] == list(Settings.__struct_fields__)
    for key, shown in rows:
        value = getattr(Settings(), key)
        expected = (
            "none"
            if value is None
            else "`[]`"
            if value == []
            else str(value)
            if isinstance(value, int)
            else f"`{value}`"
        )
        assert shown.startswith(expected), (key, shown)
