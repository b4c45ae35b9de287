"""The small `churn-train` commands beside training: `keygen`."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from churn_training import signing

# The codes of cli.py's docstring (not imported: cli imports this module lazily).
EXIT_USAGE = 2

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
