#!/opt/mlflow/bin/python
"""mlflow-entrypoint: start `mlflow server` from the environment, guarded by basic auth.

Compose and ECS configure it the same way (MLFLOW_* variables); extra arguments are appended
(e.g. `--app-name basic-auth`, `--workers 1`). Before the server starts, with basic auth on
(the default), this script writes the auth config under /tmp and makes the three identities
exist with the passwords it was given, on every start (idempotent):

  admin   MLFLOW_AUTH_ADMIN_USERNAME (admin) / MLFLOW_AUTH_ADMIN_PASSWORD   administrator
  trainer MLFLOW_TRAINER_USERNAME (trainer) / MLFLOW_TRAINER_PASSWORD       EDIT on experiments
          and registered models (MANAGE on the ones it creates)
  api     MLFLOW_API_USERNAME (api) / MLFLOW_API_PASSWORD                   READ only

Every secret may also come as a file, NAME_FILE (compose mounts them), instead of NAME (ECS).
The auth database sits next to the backend store: basic_auth.db beside a SQLite file, or the
same PostgreSQL database (its own tables and alembic_version_auth); MLFLOW_AUTH_DATABASE_URI
overrides it.
"""

from __future__ import annotations

import configparser
import os
import secrets
import sys
from pathlib import Path
from typing import Any

SECRETS = (
    "MLFLOW_AUTH_ADMIN_USERNAME",
    "MLFLOW_AUTH_ADMIN_PASSWORD",
    "MLFLOW_TRAINER_USERNAME",
    "MLFLOW_TRAINER_PASSWORD",
    "MLFLOW_API_USERNAME",
    "MLFLOW_API_PASSWORD",
    "MLFLOW_FLASK_SERVER_SECRET_KEY",
    "MLFLOW_BACKEND_STORE_URI",
)
IDENTITIES = (  # (variable prefix, default user name, administrator)
    ("MLFLOW_AUTH_ADMIN", "admin", True),
    ("MLFLOW_TRAINER", "trainer", False),
    ("MLFLOW_API", "api", False),
)
# Wildcard grants, upserted on every start: what each non-admin identity may do.
GRANTS = {
    "MLFLOW_TRAINER": "EDIT",  # log runs, register versions, move aliases
    "MLFLOW_API": "READ",  # load the champion; never write
}
RESOURCE_TYPES = ("experiment", "registered_model")
# Only these may create experiments and models (a workspace grant): the api identity cannot.
CREATORS = ("MLFLOW_TRAINER",)
DEFAULT_WORKSPACE = "default"


def fail(message: str) -> None:
    sys.exit(f"mlflow-entrypoint: {message}")


def load_file_secrets(env: dict[str, str]) -> None:
    """NAME_FILE fills NAME when NAME is unset (compose passes secrets as files)."""
    for name in SECRETS:
        path = env.get(f"{name}_FILE")
        if not env.get(name) and path:
            try:
                env[name] = Path(path).read_text().strip()
            except OSError as exc:
                fail(f"cannot read {name}_FILE={path}: {exc.strerror}")


def required(env: dict[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        fail(f"{name} (or {name}_FILE) is required when the server runs with basic auth")
    return value


def auth_database_uri(env: dict[str, str]) -> str:
    """Where users and grants live: beside the backend store unless told otherwise."""
    if env.get("MLFLOW_AUTH_DATABASE_URI"):
        return env["MLFLOW_AUTH_DATABASE_URI"]
    backend = required(env, "MLFLOW_BACKEND_STORE_URI")
    if backend.startswith("sqlite:///"):
        database = Path(backend.removeprefix("sqlite:///").split("?")[0])
        return f"sqlite:///{database.with_name('basic_auth.db')}"
    return backend


def write_auth_config(env: dict[str, str], database_uri: str) -> Path:
    """The auth app's config file, under /tmp (the only writable path on ECS)."""
    config = configparser.ConfigParser(interpolation=None)
    config["mlflow"] = {
        "default_permission": "READ",
        "database_uri": database_uri,
        "admin_username": env["MLFLOW_AUTH_ADMIN_USERNAME"],
        "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
        # With workspaces on, creating anything needs a workspace grant (USE): only the trainer
        # holds one, while everyone signed in still reads the default workspace.
        "grant_default_workspace_access": "true",
    }
    folder = Path(env.get("MLFLOW_AUTH_CONFIG_DIR", "/tmp/mlflow-auth"))
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "basic_auth.ini"
    path.touch(mode=0o600)
    with path.open("w") as handle:
        config.write(handle)
    return path


def ensure_identities(env: dict[str, str], database_uri: str) -> None:
    """Create or update admin, trainer and api with the given passwords and grants."""
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore
    from mlflow.utils.workspace_context import WorkspaceContext

    store = SqlAlchemyStore()
    store.init_db(database_uri)
    with WorkspaceContext(DEFAULT_WORKSPACE):
        for prefix, _, is_admin in IDENTITIES:
            ensure_identity(store, env[f"{prefix}_USERNAME"], env[f"{prefix}_PASSWORD"], is_admin)
            if prefix in GRANTS:
                for resource_type in RESOURCE_TYPES:
                    store.grant_user_permission(
                        env[f"{prefix}_USERNAME"], resource_type, "*", GRANTS[prefix]
                    )
            if prefix in CREATORS:
                store.set_workspace_permission(DEFAULT_WORKSPACE, env[f"{prefix}_USERNAME"], "USE")
            print(f"mlflow-entrypoint: identity {env[f'{prefix}_USERNAME']!r} ready", flush=True)


def ensure_identity(store: Any, username: str, password: str, is_admin: bool) -> None:
    """The user exists with this password and administrator flag."""
    from mlflow.exceptions import MlflowException

    if store.has_user(username, use_primary=True):
        store.update_user(username, password=password, is_admin=is_admin)
        return
    try:
        store.create_user(username, password, is_admin=is_admin)
    except MlflowException:  # another task created it meanwhile
        store.update_user(username, password=password, is_admin=is_admin)


def server_command(env: dict[str, str], extra: list[str]) -> list[str]:
    command = [
        "mlflow",
        "server",
        "--backend-store-uri",
        required(env, "MLFLOW_BACKEND_STORE_URI"),
        "--artifacts-destination",
        required(env, "MLFLOW_ARTIFACTS_DESTINATION"),
        "--serve-artifacts",
        "--host",
        env.get("MLFLOW_HOST", "0.0.0.0"),
        "--port",
        env.get("MLFLOW_PORT", "5000"),
        "--workers",
        env.get("MLFLOW_WORKERS", "1"),
        "--allowed-hosts",
        required(env, "MLFLOW_SERVER_ALLOWED_HOSTS"),
    ]
    if "--app-name" not in extra:
        command += ["--app-name", env.get("MLFLOW_APP_NAME", "basic-auth")]
    if env.get("MLFLOW_ENABLE_WORKSPACES", "true").lower() == "true":
        command.append("--enable-workspaces")
    return command + extra


def main(argv: list[str]) -> None:
    env = dict(os.environ)
    load_file_secrets(env)
    # The job runner and its seven huey consumers double the memory (PITFALLS.md): off unless
    # someone turns it on explicitly.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    command = server_command(env, argv)
    if command[command.index("--app-name") + 1] == "basic-auth":
        for prefix, default_name, _ in IDENTITIES:
            env[f"{prefix}_USERNAME"] = env.get(f"{prefix}_USERNAME") or default_name
            required(env, f"{prefix}_PASSWORD")
        # CSRF and session signing; a fresh key per start is enough (logins last a session).
        env.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", secrets.token_hex(32))
        database_uri = auth_database_uri(env)
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(write_auth_config(env, database_uri))
        ensure_identities(env, database_uri)
    for name in SECRETS[:6]:  # the server needs none of them but the admin's, which is set
        if name != "MLFLOW_AUTH_ADMIN_PASSWORD":
            env.pop(name, None)
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main(sys.argv[1:])
