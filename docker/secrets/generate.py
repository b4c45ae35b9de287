"""The compose stack's local secrets: generated on first start, never taken from the repository.

Run by the one-shot `secrets` service (trainer image, no network) before anything else starts:

  python /opt/secrets/generate.py          create what is missing, hand each service its share
  python /opt/secrets/generate.py show     print the console and MLflow admin logins

Every value is generated once with `secrets` (or an ECDSA P-256 key pair with `cryptography`)
and kept in the master volume (/secrets/master, root-only, mounted nowhere else). Each run then
rewrites the per-service volumes, each mounted read-only into one service only, with just
what that service needs (files 0400, owned by the services' user 10001):

  mlflow   admin_password trainer_password api_password   (mlflow-entrypoint's *_FILE inputs)
  trainer  mlflow_password signing-key.pem                 (MODEL_SIGNING_KEY_FILE)
  api      jwt_secret mlflow_password model-public-keys.pem (MODEL_PUBLIC_KEYS_FILE)
  ui       jwt_secret
  proxy    console.htpasswd                                (nginx basic auth for /ui)
  grafana  admin_password                                  (monitoring profile; Grafana's uid 472)

JWT_SECRET, CONSOLE_USERNAME and CONSOLE_PASSWORD from .env (or the shell) win over generated
values and are kept as the new ones.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(os.environ.get("SECRETS_ROOT", "/secrets"))
MASTER = ROOT / "master"
SERVICE_UID = int(os.environ.get("SERVICE_UID", "10001"))
OWNERS = {"grafana": 472}  # the public Grafana image's user; every image of ours runs as 10001
DEFAULT_CONSOLE_USER = "churn"
MIN_PASSWORD = 12


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
    values = {
        "jwt_secret": master_value(
            "jwt_secret", lambda: secrets.token_hex(32), env.get("JWT_SECRET")
        ),
        "console_username": master_value(
            "console_username", lambda: DEFAULT_CONSOLE_USER, env.get("CONSOLE_USERNAME")
        ),
        "console_password": master_value("console_password", token, console_password),
        "mlflow_admin_password": master_value("mlflow_admin_password", token),
        "mlflow_trainer_password": master_value("mlflow_trainer_password", token),
        "mlflow_api_password": master_value("mlflow_api_password", token),
        "grafana_admin_password": master_value("grafana_admin_password", token),
        "signing_key": master_value("signing-key.pem", signing_key),
    }
    values["public_key"] = public_key(values["signing_key"])
    write(MASTER / "signing-key.pub.pem", values["public_key"], owner=None)
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
            "jwt_secret": values["jwt_secret"],
            "mlflow_password": values["mlflow_api_password"],
            "model-public-keys.pem": values["public_key"],
        },
        "ui": {"jwt_secret": values["jwt_secret"]},
        "proxy": {
            "console.htpasswd": htpasswd(values["console_username"], values["console_password"])
        },
        "grafana": {"admin_password": values["grafana_admin_password"]},
    }
    for service, files in shares.items():
        folder = ROOT / service
        if not folder.is_dir():
            continue  # that service's volume is not mounted in this run
        for name, text in files.items():
            write(folder / name, text, owner=OWNERS.get(service, SERVICE_UID))


def show() -> None:
    """The logins a person needs, from the master copies."""
    read = (
        {p.name: p.read_text() for p in MASTER.iterdir() if p.is_file()} if MASTER.is_dir() else {}
    )
    if "console_password" not in read:
        sys.exit("secrets: nothing generated yet; run `docker compose up` first")
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
