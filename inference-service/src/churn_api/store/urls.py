"""Database URLs read the way SQLAlchemy reads them, without importing it: settings check
DATABASE_URL when they load, and SQLAlchemy is a fifth of the API's start (store/service.py)."""

from __future__ import annotations

import re

# SQLAlchemy's own URL grammar (sqlalchemy.engine.url._parse_url).
_DATABASE_URL = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X,
)


def database_backend(url: str) -> str | None:
    """The backend SQLAlchemy's make_url(url).get_backend_name() gives; None where it refuses."""
    found = _DATABASE_URL.match(url)
    if found is None:
        return None
    if found["port"] is not None:
        try:
            int(found["port"])
        except ValueError:
            return None
    return found["name"].split("+")[0]
