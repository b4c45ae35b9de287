"""The compose stack's local secrets: generated on first start, never taken from the repository.

Run by the one-shot `secrets` service (trainer image, no network) before anything else starts:

  python /opt/secrets/generate.py          create what is missing, hand each service its share
  python /opt/secrets/generate.py show     print the console and MLflow admin logins
  python /opt/secrets/generate.py show --admin-token [--ttl SECONDS]
                                           print an API `admin` token (ES256, 15 min default)

Every value is generated once with `secrets` (or an ECDSA P-256 key pair with `cryptography`)
and kept in the master volume (/secrets/master, root-only, mounted nowhere else). Each run then
rewrites the per-service volumes, each mounted read-only into one service only, with just
what that service needs (files 0400, owned by the services' user 10001):

  mlflow   admin_password trainer_password api_password   (mlflow-entrypoint's *_FILE inputs)
  trainer  mlflow_password signing-key.pem                 (MODEL_SIGNING_KEY_FILE)
  api      jwt_predict_secret mlflow_password model-public-keys.pem (MODEL_PUBLIC_KEYS_FILE)
           jwt-admin-public-keys.pem                       (JWT_ADMIN_PUBLIC_KEYS_FILE)
           database_password                               (the store's read-only role)
  postgres writer_password reader_password                 (init.sql sets the two roles)
  scorer   database_password mlflow_password model-public-keys.pem
                                                           (the store's write role; MLflow's
                                                           read-only `api` identity)
  ui       api_predict_secret                              (the same predict-only secret)
  proxy    console.htpasswd                                (nginx basic auth for /ui)
  grafana  admin_password                                  (monitoring profile; Grafana's uid 472)

The API's tokens (docs/api.md "Authentication"): the UI gets a predict-only HS256 secret; the
operator's ES256 admin key pair is generated here and its private half never leaves the master
volume: `show --admin-token` signs a short-lived admin token with it, the API holds the public half.

CONSOLE_USERNAME and CONSOLE_PASSWORD from .env (or the shell) win over generated values and are
kept as the new ones. JWT_SECRET is no longer used: it is refused, so an old .env fails loudly.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(os.environ.get("SECRETS_ROOT", "/secrets"))
MASTER = ROOT / "master"
SERVICE_UID = int(os.environ.get("SERVICE_UID", "10001"))
OWNERS = {"grafana": 472}  # the public Grafana image's user; every image of ours runs as 10001
DEFAULT_CONSOLE_USER = "churn"
MIN_PASSWORD = 12
ADMIN_TOKEN_TTL = 900
MAX_ADMIN_TOKEN_TTL = 3600  # the API's default JWT_MAX_LIFETIME_SECONDS


def token() -> str:
    return secrets.token_urlsafe(24)


def signing_key() -> str:
    """A PKCS#8 PEM ECDSA P-256 private key (the signing contract, notes/signing.md)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_key(private_pem: str) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def htpasswd(user: str, password: str) -> str:
    """One nginx auth_basic_user_file line, SHA-512 crypt (nginx calls the system crypt)."""
    with warnings.catch_warnings():  # crypt is deprecated since 3.11, still here in 3.11
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt as legacy_crypt

        hashed = legacy_crypt.crypt(password, legacy_crypt.mksalt(legacy_crypt.METHOD_SHA512))
    return f"{user}:{hashed}\n"


def write(path: Path, text: str, owner: int | None) -> None:
    """Replace `path` atomically with `text`, mode 0400 (0600 for root's own copies)."""
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if owner is None else 0o400)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    if owner is not None:
        os.chown(partial, owner, owner)
    partial.replace(path)


def master_value(name: str, make: Callable[[], str], override: str | None = None) -> str:
    """The kept value of `name`: the override if given, else the stored one, else a new one."""
    path = MASTER / name
    if override:
        if not path.exists() or path.read_text() != override:
            write(path, override, owner=None)
        return override
    if path.exists():
        return path.read_text()
    value = make()
    write(path, value, owner=None)
    print(f"secrets: generated {name}", flush=True)
    return value


def generate() -> dict[str, str]:
    env = os.environ
    console_password = env.get("CONSOLE_PASSWORD") or None
    if console_password is not None and len(console_password) < MIN_PASSWORD:
        sys.exit(f"secrets: CONSOLE_PASSWORD is shorter than {MIN_PASSWORD} characters")
    if env.get("JWT_SECRET"):
        sys.exit(
            "secrets: JWT_SECRET is no longer used (the UI's predict-only secret and the "
            "operator's admin key are generated): remove it from .env (docs/docker.md)"
        )
    values = {
        "jwt_predict_secret": master_value("jwt_predict_secret", lambda: secrets.token_hex(32)),
        "jwt_admin_key": master_value("jwt-admin-key.pem", signing_key),
        "console_username": master_value(
            "console_username", lambda: DEFAULT_CONSOLE_USER, env.get("CONSOLE_USERNAME")
        ),
        "console_password": master_value("console_password", token, console_password),
        "mlflow_admin_password": master_value("mlflow_admin_password", token),
        "mlflow_trainer_password": master_value("mlflow_trainer_password", token),
        "mlflow_api_password": master_value("mlflow_api_password", token),
        "grafana_admin_password": master_value("grafana_admin_password", token),
        # The customer store's roles (docker/postgres/init.sql): the scorer writes, the API reads.
        "store_writer_password": master_value("store_writer_password", token),
        "store_reader_password": master_value("store_reader_password", token),
        "signing_key": master_value("signing-key.pem", signing_key),
    }
    values["public_key"] = public_key(values["signing_key"])
    write(MASTER / "signing-key.pub.pem", values["public_key"], owner=None)
    values["jwt_admin_public_key"] = public_key(values["jwt_admin_key"])
    return values


def hand_out(values: dict[str, str]) -> None:
    """Each service's volume gets exactly its share, rewritten on every start."""
    shares = {
        "mlflow": {
            "admin_password": values["mlflow_admin_password"],
            "trainer_password": values["mlflow_trainer_password"],
            "api_password": values["mlflow_api_password"],
        },
        "trainer": {
            "mlflow_password": values["mlflow_trainer_password"],
            "signing-key.pem": values["signing_key"],
        },
        "api": {
            "jwt_predict_secret": values["jwt_predict_secret"],
            "jwt-admin-public-keys.pem": values["jwt_admin_public_key"],
            "mlflow_password": values["mlflow_api_password"],
            "model-public-keys.pem": values["public_key"],
            "database_password": values["store_reader_password"],
        },
        "postgres": {
            "writer_password": values["store_writer_password"],
            "reader_password": values["store_reader_password"],
        },
        "scorer": {
            "database_password": values["store_writer_password"],
            "mlflow_password": values["mlflow_api_password"],
            "model-public-keys.pem": values["public_key"],
        },
        "ui": {"api_predict_secret": values["jwt_predict_secret"]},
        "proxy": {
            "console.htpasswd": htpasswd(values["console_username"], values["console_password"])
        },
        "grafana": {"admin_password": values["grafana_admin_password"]},
    }
    for service, files in shares.items():
        folder = ROOT / service
        if not folder.is_dir():
            continue  # that service's volume is not mounted in this run
        for name in {p.name for p in folder.iterdir() if p.is_file()} - set(files):
            (folder / name).unlink()  # a share no longer handed out (the old jwt_secret)
        for name, text in files.items():
            write(folder / name, text, owner=OWNERS.get(service, SERVICE_UID))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def admin_token(private_pem: str, ttl: int) -> str:
    """An ES256 JWT with scope `admin` (RFC 7515/7518), as `churn-api token --key` mints it."""
    import hashlib

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "ES256", "typ": "JWT", "kid": hashlib.sha256(der).hexdigest()[:16]}
    now = int(time.time())
    claims = {
        "sub": "compose-operator",
        "scope": "admin predict",
        "iss": "churn-operator",
        "aud": "churn-api",
        "iat": now,
        "exp": now + ttl,
    }
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def show() -> None:
    """The logins a person needs, from the master copies."""
    read = (
        {p.name: p.read_text() for p in MASTER.iterdir() if p.is_file()} if MASTER.is_dir() else {}
    )
    if "console_password" not in read:
        sys.exit("secrets: nothing generated yet; run `docker compose up` first")
    if "--admin-token" in sys.argv:
        ttl = int(sys.argv[sys.argv.index("--ttl") + 1]) if "--ttl" in sys.argv else ADMIN_TOKEN_TTL
        if not 1 <= ttl <= MAX_ADMIN_TOKEN_TTL:
            sys.exit(f"secrets: --ttl must be 1..{MAX_ADMIN_TOKEN_TTL} seconds")
        print(admin_token(read["jwt-admin-key.pem"], ttl))
        return
    if "--json" in sys.argv:
        print(
            json.dumps(
                {
                    "console": {
                        "username": read["console_username"],
                        "password": read["console_password"],
                    },
                    "mlflow_admin": {
                        "username": "admin",
                        "password": read["mlflow_admin_password"],
                    },
                }
            )
        )
        return
    print(f"console (http://localhost/ui): {read['console_username']} / {read['console_password']}")
    print(f"MLflow UI (docker/mlflow/publish-ui.yml): admin / {read['mlflow_admin_password']}")
    print(f"Grafana (monitoring profile): admin / {read['grafana_admin_password']}")
    print("API admin token (POST /admin/reload inside the network): show --admin-token")


def main() -> None:
    if sys.argv[1:2] == ["show"]:
        show()
        return
    hand_out(generate())
    print(
        "secrets: ready. Console login: `docker compose run --rm secrets show` "
        "(user and password for http://localhost/ui)",
        flush=True,
    )


if __name__ == "__main__":
    main()
