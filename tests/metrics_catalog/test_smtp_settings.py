"""A misconfigured SMTP URL is refused with the setting's name, before any connection."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from lake.errors import ConfigError
from lake.notify.delivery import _send_smtp


@pytest.mark.parametrize("url", ["http://mail.example:25", "smtp://", "mailto:someone@example.com"])
def test_bad_smtp_url_names_the_setting(url: str) -> None:
    with pytest.raises(ConfigError, match="LAKEGATE_SMTP_URL"):
        _send_smtp(url, EmailMessage())
