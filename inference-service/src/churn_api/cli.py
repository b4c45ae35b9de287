"""The `churn-api` console entry: serve the API (the default) or mint a token."""

from __future__ import annotations

import argparse
import os
import sys

from churn_api.logs import configure_logging
from churn_api.main import create_app
from churn_api.security import SCOPES, mint_token
from churn_api.settings import Settings, get_settings


def run(argv: list[str] | None = None) -> None:
    """`churn-api` (serve) or `churn-api token --scope predict`."""
    parser = argparse.ArgumentParser(prog="churn-api", description="Telco churn inference API")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="start the API (the default)")
    token = sub.add_parser("token", help="print a signed JWT (reads JWT_SECRET)")
    token.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=list(SCOPES),
        help="repeat for several scopes",
    )
    token.add_argument("--ttl", type=int, default=3600, help="seconds until expiry")
    token.add_argument("--sub", default="churn-api-cli", help="subject claim")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command == "token":
        if settings.jwt_secret is None:
            parser.exit(2, "churn-api token: JWT_SECRET is not set\n")
        print(mint_token(settings.jwt_secret.get_secret_value(), args.scope, args.ttl, args.sub))
        return
    serve(settings)


def serve(settings: Settings) -> None:
    """Run uvicorn: one worker, our JSON request log instead of the access log."""
    import uvicorn

    configure_logging(settings.log_level)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        timeout_keep_alive=settings.timeout_keep_alive,
        timeout_graceful_shutdown=settings.timeout_graceful_shutdown,
        access_log=False,
        log_config=None,
        server_header=False,
    )


if __name__ == "__main__":
    sys.exit(run())
