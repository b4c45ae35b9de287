#!/bin/sh
# Start `mlflow server` from the environment, so compose and ECS configure it the same way.
# Extra arguments are appended (e.g. `--workers 1`).
set -eu
exec mlflow server \
  --backend-store-uri "${MLFLOW_BACKEND_STORE_URI}" \
  --artifacts-destination "${MLFLOW_ARTIFACTS_DESTINATION}" \
  --serve-artifacts \
  --host "${MLFLOW_HOST}" \
  --port "${MLFLOW_PORT}" \
  --workers "${MLFLOW_WORKERS}" \
  --allowed-hosts "${MLFLOW_SERVER_ALLOWED_HOSTS}" \
  "$@"
