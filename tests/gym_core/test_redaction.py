"""Secrets in URLs are hidden wherever a URL is shown."""

from __future__ import annotations

import pytest

from gym_core.catalog import default_catalog_path
from gym_core.config import load_config
from gym_core.errors import ConfigError, ServiceUnavailable
from gym_core.redaction import redact, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pw@host:8000/v1", "http://user:***@host:8000/v1"),
        ("https://sk-secret@api.example/v1", "https://***@api.example/v1"),
        ("http://h/x?api_key=1&model=m", "http://h/x?api_key=***&model=m"),
        (
            "http://h/x?access_token=1&X-Amz-Signature=2",
            "http://h/x?access_token=***&X-Amz-Signature=***",
        ),
        ("http://127.0.0.1:8700", "http://127.0.0.1:8700"),
        ("http://[::1]:8700/v1/rollouts", "http://[::1]:8700/v1/rollouts"),
    ],
)
def test_a_urls_password_and_secret_parameters_are_hidden(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_every_url_in_a_text_is_hidden_and_the_sentence_kept() -> None:
    text = "tried http://a:pw@h:1/x, then https://h/y?token=t: no answer."
    assert redact(text) == "tried http://a:***@h:1/x, then https://h/y?token=***: no answer."
    assert redact("no url here") == "no url here"


def test_a_service_errors_message_and_url_hold_no_secret() -> None:
    error = ServiceUnavailable("http://u:pw@h:1/v1/models", "cannot connect to http://u:pw@h:1")
    assert str(error) == "http://u:***@h:1/v1/models: cannot connect to http://u:***@h:1"
    assert error.url == "http://u:***@h:1/v1/models"


def test_a_config_error_never_repeats_a_token_or_an_engine_password() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(default_catalog_path(), None, {"serve": {"token": "short!"}})
    assert "serve.token" in str(caught.value)
    assert "short!" not in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_config(default_catalog_path(), None, {"policy": {"engine_urls": ["ftp://u:pw@h"]}})
    assert "policy.engine_urls: expected an http(s) URL" in str(caught.value)
    assert "ftp://u:***@h" in str(caught.value)
    assert ":pw@" not in str(caught.value)
