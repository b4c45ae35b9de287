"""What an unauthenticated answer may say about the model's origin: no internal URLs, file
paths or run ids (the logs and the admin reload answer keep the detail)."""

from __future__ import annotations

import re

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"),;]+")
_PATH = re.compile(r"(?<![\w:/])(?:~|\.{1,2})?/[^\s'\"),;:]+")
_RUN_ID = re.compile(r"\b[0-9a-f]{32}\b")
_HOST = re.compile(
    r"host='[^']*'|\bport=\d+|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b|\b[a-zA-Z][\w.-]*:\d{2,5}\b"
)


def redact(text: str | None) -> str | None:
    """`text` with URLs, absolute paths and run ids replaced by placeholders."""
    if text is None:
        return None
    text = _URL.sub("<url>", text)
    text = _PATH.sub("<path>", text)
    text = _HOST.sub("<host>", text)
    return _RUN_ID.sub("<run id>", text)
