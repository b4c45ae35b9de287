"""Build-time smoke check of the pruned MLflow image: the real entrypoint starts the server with
basic auth; a run, a metric, a proxied artifact, a registered model, a version and an alias go
through it and come back. Fails the build when a left-out package was needed after all."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PORT = "5099"
ADMIN_PASSWORD = "smoke-admin-password-for-the-build-only"


def wait_healthy(server: subprocess.Popen[bytes]) -> None:
    """Poll /health until the server answers; fail if it exits first or takes 120 s."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"smoke: mlflow server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    sys.exit("smoke: mlflow server not healthy after 120 s")


def exercise(work: Path) -> None:
    """Write and read back through the server as its administrator."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"http://127.0.0.1:{PORT}")
    experiment = client.create_experiment("smoke")
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "x", 1.0)
    client.log_text(run.info.run_id, "hello", "note.txt")
    client.create_registered_model("smoke-model")
    version = client.create_model_version(
        "smoke-model", f"runs:/{run.info.run_id}/note.txt", run.info.run_id
    )
    client.set_registered_model_alias("smoke-model", "champion", version.version)
    assert client.get_model_version_by_alias("smoke-model", "champion").version == "1"
    local = client.download_artifacts(run.info.run_id, "note.txt", str(work))
    assert Path(local).read_text() == "hello"
    assert client.get_run(run.info.run_id).data.metrics == {"x": 1.0}


def main() -> None:
    work = Path(tempfile.mkdtemp())
    env = {
        **os.environ,
        "HOME": str(work),
        "MLFLOW_PORT": PORT,
        "MLFLOW_HOST": "127.0.0.1",
        "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{work}/mlflow.db",
        "MLFLOW_ARTIFACTS_DESTINATION": str(work / "artifacts"),
        "MLFLOW_SERVER_ALLOWED_HOSTS": "localhost,localhost:*,127.0.0.1,127.0.0.1:*",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_AUTH_CONFIG_DIR": str(work / "auth"),
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MLFLOW_TRAINER_PASSWORD": "smoke-trainer-password-for-the-build",
        "MLFLOW_API_PASSWORD": "smoke-api-password-for-the-build-only",
    }
    server = subprocess.Popen(["mlflow-entrypoint", "--app-name", "basic-auth"], env=env)
    try:
        wait_healthy(server)
        os.environ["MLFLOW_TRACKING_USERNAME"] = "admin"
        os.environ["MLFLOW_TRACKING_PASSWORD"] = ADMIN_PASSWORD
        exercise(work)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print("smoke: mlflow server with basic auth serves runs, artifacts and the registry")


if __name__ == "__main__":
    main()
