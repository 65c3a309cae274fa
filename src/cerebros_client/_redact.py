"""Removal of the bearer token from text that leaves the client."""

from __future__ import annotations

MASK = "***"

EXCERPT_CHARS = 300
"""Characters of a response body kept in an error's `body_excerpt`."""

MAX_DECODED_BYTES = 65536
"""Bytes of a response body decoded when building an excerpt."""


def redact(text: str, token: str | None) -> str:
    """Return `text` with every occurrence of `token` replaced by ``***``."""
    if not token:
        return text
    return text.replace(token, MASK)


def excerpt(body: bytes, token: str | None) -> str:
    """Decode the start of a response body for an error message, token removed.

    The token is removed before the text is cut, so a token that straddles
    the cut cannot leave a prefix behind.
    """
    text = body[:MAX_DECODED_BYTES].decode("utf-8", errors="replace")
    text = redact(" ".join(text.split()), token)
    if len(text) > EXCERPT_CHARS:
        text = text[:EXCERPT_CHARS] + "..."
    return text
