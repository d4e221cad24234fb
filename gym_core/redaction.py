"""Secrets taken out of URLs before they are printed, logged or sent back in an answer.

An engine URL may carry a password (`https://user:PASSWORD@host`) or a key in its query
(`?api_key=...`); a failed rollout's message, `/admin/status`, a log line and `gym serve`'s
banner all show URLs. Every place that shows one passes it, or the text holding it, through
here.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["REDACTED", "redact", "redact_url"]

REDACTED = "***"
SECRET_PARAM = re.compile(r"key|token|secret|pass|auth|sig|credential|session|code", re.IGNORECASE)
"""Query parameters whose values are hidden: `api_key`, `access_token`, `X-Amz-Signature`..."""
URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()\[\]{}]+")


def redact_url(url: str) -> str:
    """`url` with the userinfo's password (or a lone token as userinfo) and the values of
    secret-looking query parameters replaced by `***`."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return url
    user, at, host = netloc.rpartition("@")
    if at:
        name, colon, _ = user.partition(":")
        netloc = f"{name}:{REDACTED}@{host}" if colon else f"{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        hidden = [(k, REDACTED if SECRET_PARAM.search(k) else v) for k, v in pairs]
        query = urlencode(hidden, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact(text: str) -> str:
    """`text` with every URL in it redacted (`redact_url`)."""
    if "://" not in text:
        return text
    return URL_IN_TEXT.sub(_redact_found, text)


def _redact_found(found: re.Match[str]) -> str:
    url = found.group(0)
    bare = url.rstrip(".,;:!?")  # the sentence's punctuation, not the URL's
    return redact_url(bare) + url[len(bare) :]
