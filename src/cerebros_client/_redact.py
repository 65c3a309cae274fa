"""Removal of the bearer token from text that leaves the client."""

from __future__ import annotations

MASK = "***"

EXCERPT_CHARS = 300
"""Characters of a response body kept in an error's `body_excerpt`."""


def redact(text: str, token: str | None) -> str:
    """Return `text` with every occurrence of `token` replaced by ``***``."""
    if not token:
        return text
    return text.replace(token, MASK)


def excerpt(body: bytes, token: str | None) -> str:
    """Decode the start of a response body for an error message, token removed."""
    text = body[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    text = " ".join(text.split())
    if len(text) > EXCERPT_CHARS:
        text = text[:EXCERPT_CHARS] + "..."
    return redact(text, token)
