"""The bearer token source: fixed, or minted from the shared secret and renewed early."""

from __future__ import annotations

import time

from churn_ui.api.tokens import TokenSource


def test_ui_token_source_renews_before_expiry() -> None:
    assert TokenSource().header() == {}
    assert TokenSource(token="abc").header() == {"Authorization": "Bearer abc"}
    tokens = TokenSource(secret="x" * 32, ttl_seconds=300)
    first = tokens.token()
    assert first is not None and tokens.token() == first  # reused while fresh
    assert tokens._minted is not None
    tokens._minted = ("stale-token", time.time() + 50)  # only 50 s of 300 left: renew
    renewed = tokens.token()
    assert renewed != "stale-token"
    assert tokens._minted[1] > time.time() + 250
