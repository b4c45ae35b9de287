"""The `churn-api` console entry: serve the API (the default), mint a token or make a key pair."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from churn_api.logs import configure_logging
from churn_api.main import create_app
from churn_api.security import SCOPES, mint_token
from churn_api.settings import Settings, get_settings

MAX_TTL_SECONDS = 86_400


def run(argv: list[str] | None = None) -> None:
    """`churn-api` (serve), `churn-api token --scope admin --key PATH` or `churn-api keygen`."""
    parser = argparse.ArgumentParser(prog="churn-api", description="Telco churn inference API")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="start the API (the default)")
    token = sub.add_parser(
        "token",
        help="print a signed JWT: ES256 with --key (operators; any scope), "
        "else HS256 with JWT_PREDICT_SECRET (scopes predict and customers)",
    )
    token.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=list(SCOPES),
        help="repeat for several scopes",
    )
    token.add_argument("--key", type=Path, help="an EC P-256 private key (PEM), e.g. from keygen")
    token.add_argument("--ttl", type=int, default=900, help="seconds until expiry (max 86400)")
    token.add_argument("--sub", default="churn-api-cli", help="subject claim")
    token.add_argument("--issuer", default="churn-operator", help="'iss' (one of JWT_ISSUERS)")
    token.add_argument("--audience", default="churn-api", help="'aud' (the API's JWT_AUDIENCE)")
    keygen = sub.add_parser("keygen", help="write an EC P-256 key pair for signing tokens")
    keygen.add_argument("--out", type=Path, required=True, help="folder for the two PEM files")
    keygen.add_argument("--name", default="token-key", help="file stem (NAME.pem, NAME.pub.pem)")
    args = parser.parse_args(argv)
    if args.command == "keygen":
        private, public = write_key_pair(args.out, args.name)
        print(f"private key (keep it; never give it to the API): {private}")
        print(f"public key (JWT_ADMIN_PUBLIC_KEYS_FILE or JWT_PREDICT_PUBLIC_KEYS_FILE): {public}")
        return
    if args.command == "token":
        if not 1 <= args.ttl <= MAX_TTL_SECONDS:
            parser.exit(2, f"churn-api token: --ttl must be 1..{MAX_TTL_SECONDS} seconds\n")
        print(mint(parser, args))
        return
    try:
        settings = get_settings()
    except ValidationError as exc:
        # Without the input values: they would print the secrets.
        problems = [
            f"  {'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        ]
        parser.exit(
            2, "churn-api: refusing to start, invalid settings:\n" + "\n".join(problems) + "\n"
        )
    serve(settings)


def mint(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The token the `token` command prints."""
    claims = {"sub": args.sub, "issuer": args.issuer, "audience": args.audience}
    if args.key is not None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            key = serialization.load_pem_private_key(args.key.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            parser.exit(2, f"churn-api token: cannot read the private key {args.key}: {exc}\n")
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            parser.exit(2, "churn-api token: --key must be an EC P-256 private key\n")
        return mint_token(key, args.scope, args.ttl, **claims)
    secret = os.environ.get("JWT_PREDICT_SECRET", "").strip()
    if not secret:
        parser.exit(2, "churn-api token: pass --key PATH, or set JWT_PREDICT_SECRET\n")
    if "admin" in args.scope:
        parser.exit(
            2,
            "churn-api token: JWT_PREDICT_SECRET mints 'predict' and 'customers' only; "
            "'admin' needs --key\n",
        )
    return mint_token(secret, args.scope, args.ttl, **claims)


def write_key_pair(folder: Path, name: str = "token-key") -> tuple[Path, Path]:
    """A new EC P-256 pair: NAME.pem (PKCS#8, mode 0600) and NAME.pub.pem."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


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
