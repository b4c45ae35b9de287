"""The small `churn-train` commands beside training: `keygen` and `rollback`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from rich.console import Console
from rich.markup import escape

from churn_training import champion_alias, signing
from churn_training.registry_lock import LockError, whoami
from churn_training.settings import TrainSettings

# The codes of cli.py's docstring (not imported: cli imports this module lazily).
EXIT_USAGE = 2
EXIT_MLFLOW = 3
EXIT_REFUSED = 4

console = Console(stderr=True)


def _error(kind: str, exc: Exception) -> None:
    console.print(f"[red]{kind}:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)


def keygen(out_dir: Path) -> int:
    """Write DIR/signing-key.pem (0600) and DIR/signing-key.pub.pem; never overwrite."""
    try:
        private, public = signing.generate_keypair(out_dir)
    except (signing.SigningError, OSError) as exc:
        _error("error", exc)
        return EXIT_USAGE
    key_id = signing.LocalSigner.from_file(private).key_id
    console.print(
        f"signing key {key_id}: give the trainer MODEL_SIGNING_KEY_FILE={private} and the API "
        f"MODEL_PUBLIC_KEYS_FILE={public}",
        highlight=False,
        soft_wrap=True,
    )
    print(json.dumps({"private_key": str(private), "public_key": str(public), "key_id": key_id}))
    return 0


def rollback(settings: TrainSettings, reason: str) -> int:
    """Move `champion` back to `previous-champion` under the promotion lock; one JSON line."""
    from churn_training.publish import PublishError, check_tracking_server

    uri = settings.tracking_uri or ""
    try:
        check_tracking_server(uri)
        client = MlflowClient(uri or None)
        client.get_registered_model(settings.model_name)
    except PublishError as exc:
        _error("mlflow error", exc)
        return EXIT_MLFLOW
    except MlflowException as exc:
        _error("mlflow error", exc)
        return EXIT_REFUSED if exc.error_code == "RESOURCE_DOES_NOT_EXIST" else EXIT_MLFLOW
    try:
        move = champion_alias.rollback(client, settings, whoami("churn-train rollback"), reason)
    except champion_alias.PromotionError as exc:
        _error("refused", exc)
        return EXIT_REFUSED
    except (LockError, MlflowException) as exc:
        _error("mlflow error", exc)
        return EXIT_MLFLOW
    console.print(
        f"{settings.model_name}: champion is version {move.champion} again "
        f"(previous-champion now {move.previous_champion})",
        highlight=False,
    )
    print(json.dumps({"command": "rollback", "model": settings.model_name, **asdict(move)}))
    return 0
