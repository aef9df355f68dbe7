from __future__ import annotations

from types import SimpleNamespace

import pytest

from tui.core.redact import MASK, MIN_SECRET_LEN, Redactor

DEFAULT_PATTERN = r"(?i)(password|passwd|secret|token|api[_-]?key)\s*[=:]\s*\S+"


def test_literal_values_are_masked_everywhere() -> None:
    r = Redactor(["hunter2-long", "tok_ABCDEF"])
    assert r("pw hunter2-long and tok_ABCDEF twice tok_ABCDEF") == "pw *** and *** twice ***"


def test_short_and_empty_values_are_ignored() -> None:
    r = Redactor(["", "a", "yes", "x" * MIN_SECRET_LEN])
    assert r.secret_count == 1
    assert r("yes a plan") == "yes a plan"
    assert r("xxxx!") == "***!"


def test_longest_secret_wins_when_one_contains_another() -> None:
    r = Redactor(["abcd", "abcdefgh"])
    assert r("abcdefgh") == MASK


def test_url_encoded_form_of_a_secret_is_masked() -> None:
    r = Redactor(["p@ss word"])
    assert r("postgres://u:p%40ss%20word@db/x") == "postgres://u:***@db/x"
    assert r("q=p%40ss%20word") == "q=***"


def test_pattern_with_group_keeps_key_masks_value() -> None:
    r = Redactor(patterns=[DEFAULT_PATTERN])
    assert r("password=hunter2") == "password=***"
    assert r("export API_KEY: abc123 rest") == "export API_KEY: *** rest"
    assert r("Token = xyz") == "Token = ***"
    assert r("nothing to see") == "nothing to see"


def test_pattern_with_trailing_group_masks_the_group() -> None:
    r = Redactor(patterns=[r"Bearer\s+(\S+)"])
    assert r("Authorization: Bearer abc.def.ghi") == "Authorization: Bearer ***"


def test_pattern_with_named_secret_group_masks_only_it() -> None:
    r = Redactor(patterns=[r"key=(?P<secret>\w+)&"])
    assert r("?key=abc&z=1") == "?key=***&z=1"


def test_pattern_without_group_masks_whole_match() -> None:
    r = Redactor(patterns=[r"AKIA[0-9A-Z]{16}"])
    assert r("id AKIAABCDEFGHIJKLMNOP end") == "id *** end"


def test_redaction_is_idempotent() -> None:
    r = Redactor(["hunter2-long"], [DEFAULT_PATTERN])
    once = r("password=hunter2-long https://u:p@h")
    assert r(once) == once


def test_url_credentials_are_masked_by_default() -> None:
    r = Redactor()
    assert r("clone https://user:pass@host/repo.git") == "clone https://user:***@host/repo.git"
    assert r("ssh://git@host/x") == "ssh://git@host/x"
    assert r("http://host:8080/x") == "http://host:8080/x"


def test_bad_pattern_is_a_one_line_value_error() -> None:
    with pytest.raises(ValueError, match="bad secret pattern"):
        Redactor(patterns=["(unclosed"])


def test_redact_obj_walks_structures() -> None:
    r = Redactor(["hunter2-long"])
    out = r.redact_obj(
        {"a": ["x hunter2-long", {"hunter2-long": 1}], "n": 3, "b": None, "t": ("hunter2-long",)}
    )
    assert out == {"a": ["x ***", {"***": 1}], "n": 3, "b": None, "t": ["***"]}


def test_add_values_learns_new_secrets() -> None:
    r = Redactor()
    assert r("late-secret") == "late-secret"
    r.add_values(["late-secret"])
    assert r("late-secret") == MASK


def config(**sections: object) -> SimpleNamespace:
    return SimpleNamespace(**sections)


def test_from_config_collects_env_values_password_and_webhooks() -> None:
    hook = "https://hooks.example.com/services/T000/B000/XXXXSECRET"
    cfg = config(
        secrets=SimpleNamespace(
            env_vars=("API_TOKEN", "MISSING", "SHORT"), patterns=(DEFAULT_PATTERN,)
        ),
        database=SimpleNamespace(password_env="PGPASS_VAR"),
        notify=SimpleNamespace(webhooks=(hook,)),
    )
    environ = {"API_TOKEN": "tok-1234567", "PGPASS_VAR": "db-pass-99", "SHORT": "ab", "OTHER": "x"}
    r = Redactor.from_config(cfg, environ)
    assert r("t=tok-1234567 p db-pass-99 ab") == "t=*** p *** ab"
    assert r(f"POST {hook} failed") == "POST *** failed"
    assert r("POST /services/T000/B000/XXXXSECRET: 500") == "POST ***: 500"
    assert r("passwd: foo") == "passwd: ***"
    # A short webhook path is not masked on its own (it would hide /api/status).
    r2 = Redactor.from_config(config(notify=SimpleNamespace(webhooks=("http://h/api",))), {})
    assert r2("GET /api/status") == "GET /api/status"
    assert r2("to http://h/api") == "to ***"


def test_from_config_tolerates_missing_sections() -> None:
    r = Redactor.from_config(SimpleNamespace(), {})
    assert r("plain https://a:b@h") == "plain https://a:***@h"
