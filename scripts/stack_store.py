"""The customer store of `make run`: where it lives, and the first start's scoring run.

On a newcomer's first start the store holds no scored base: the schema is migrated (the API
never migrates) and the launcher runs `churn-score run` on the IBM customer base, fetched and
checked by hash as the trainer does, in the background while the API starts.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# What `churn-train --fetch-only` leaves in the dataset cache after checking its sha256.
IBM_CSV_NAME = "telco_customer_churn.csv"


def store_url(state: Path) -> str:
    """DATABASE_URL when set, else a SQLite file in the state directory."""
    return os.environ.get("DATABASE_URL") or f"sqlite:///{state / 'churn-store.db'}"


def redact(url: str) -> str:
    """A database URL fit to print: its password replaced."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def has_scored_base(url: str) -> bool:
    """Whether the store holds a succeeded scoring run (a newcomer's first start has none)."""
    from sqlalchemy import select

    from churn_api.store.engine import StoreError, has_schema, make_engine
    from churn_api.store.schema import scoring_runs

    try:
        engine = make_engine(url)
    except ValueError as exc:  # an unusable DATABASE_URL: say so, no traceback
        raise RuntimeError(str(exc)) from exc
    try:
        if not has_schema(engine):
            return False
        succeeded = select(scoring_runs.c.run_id).where(scoring_runs.c.status == "succeeded")
        with engine.connect() as connection:
            return connection.execute(succeeded.limit(1)).first() is not None
    except StoreError as exc:
        raise RuntimeError(str(exc)) from exc
    finally:
        engine.dispose()


def ibm_customers(bin_dir: Path, data_cache: Path) -> Path:
    """The IBM Telco CSV, fetched and checked by hash as the trainer does (churn-train)."""
    env = {**os.environ, "CHURN_CACHE_DIR": str(data_cache)}
    subprocess.run(
        [str(bin_dir / "churn-train"), "--fetch-only"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    path = data_cache / IBM_CSV_NAME
    if not path.is_file():
        raise RuntimeError(f"churn-train --fetch-only left no {path}")
    return path


def first_scoring(bin_dir: Path, data_cache: Path, url: str) -> list[str] | None:
    """The `churn-score run` command of a first start (schema migrated), or None when the
    store already holds a scored base."""
    if has_scored_base(url):
        return None
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([str(bin_dir / "churn-score"), "migrate"], check=True, env=env)
    customers = ibm_customers(bin_dir, data_cache)
    return [
        str(bin_dir / "churn-score"),
        "run",
        "--customers",
        str(customers),
        # The IBM file carries the training label, which is not an input of the model.
        "--drop-columns",
        "Churn",
        "--no-progress",
    ]
