"""Download one registered model version's files through MLflow's proxied artifact endpoints,
refusing what a hostile registry could use against the disk (escaping paths, endless trees,
more bytes than allowed)."""

from __future__ import annotations

import http.client
from pathlib import Path
from urllib.parse import urlsplit

from churn_api.mlflow_rest import ARTIFACTS, MlflowRest, RegistryUnavailableError

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
MAX_FILES = 10_000
MAX_DEPTH = 32
CHUNK = 1024 * 1024


class UnsafeArtifactError(Exception):
    """The registry listed something the API refuses to write (bad path, too many or too big)."""


def _store_path(rest: MlflowRest, uri: str, hops: int = 0) -> str:
    """The path of `uri` under the server's proxied artifact root (mlflow-artifacts:/<path>)."""
    parts = urlsplit(uri)
    if hops > 3:
        raise RegistryUnavailableError("artifact location: too many indirections")
    if parts.scheme == "mlflow-artifacts":
        # Any host named here is ignored: only the tracking server gets our credentials.
        path = parts.path
    elif parts.scheme in ("http", "https") and uri.startswith(rest.base + ARTIFACTS + "/"):
        path = uri[len(rest.base + ARTIFACTS) :]
    elif parts.scheme == "runs":
        run_id, _, sub = parts.path.strip("/").partition("/")
        base = _store_path(rest, rest.run_artifact_uri(run_id), hops + 1)
        path = f"{base}/{sub}"
    elif parts.scheme == "models" and "/" not in parts.path.strip("/"):
        model_id = parts.path.strip("/")
        path = _store_path(rest, rest.logged_model_artifact_uri(model_id), hops + 1)
    else:
        where = f"a {parts.scheme!r}" if parts.scheme else "a local-path"
        raise RegistryUnavailableError(
            f"the version's files are at {where} location the API cannot fetch over HTTP: run "
            "the MLflow server with --serve-artifacts (artifacts proxied, mlflow-artifacts:/ "
            "locations) so the API needs only MLFLOW_TRACKING_URI"
        )
    segments = [s for s in path.split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise UnsafeArtifactError("artifact location: '..' in the path")
    return "/".join(segments)


def _checked_name(name: str) -> str:
    """A listed entry's name: one plain path segment, nothing else."""
    if name in ("", ".", "..") or any(c in name for c in "/\\\0"):
        raise UnsafeArtifactError(f"refused artifact name {name[:100]!r} (not one plain name)")
    return name


class _Download:
    """One version's tree, copied file by file into `dest` within a byte budget."""

    def __init__(self, rest: MlflowRest, dest: Path, max_bytes: int) -> None:
        self.rest = rest
        self.dest = dest.resolve()
        self.max_bytes = max_bytes
        self.total = 0
        self.files = 0

    def tree(self, remote: str, local: Path, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise UnsafeArtifactError(f"artifact tree deeper than {MAX_DEPTH} levels")
        for entry in self.rest.list_artifacts(remote):
            name = _checked_name(entry.name)
            target = (local / name).resolve()
            if target.parent != local.resolve() or not target.is_relative_to(self.dest):
                raise UnsafeArtifactError(f"refused artifact name {name[:100]!r} (escapes)")
            if entry.is_dir:
                target.mkdir()
                self.tree(f"{remote}/{name}" if remote else name, target, depth + 1)
                continue
            self.files += 1
            if self.files > MAX_FILES:
                raise UnsafeArtifactError(f"more than {MAX_FILES} files")
            if entry.size is not None and self.total + entry.size > self.max_bytes:
                raise UnsafeArtifactError(self._too_big())
            self.file(f"{remote}/{name}" if remote else name, target)

    def file(self, remote: str, target: Path) -> None:
        with self.rest.open_artifact(remote) as response, target.open("xb") as out:
            try:
                while chunk := response.read(CHUNK):
                    self.total += len(chunk)
                    if self.total > self.max_bytes:
                        raise UnsafeArtifactError(self._too_big())
                    out.write(chunk)
            except (OSError, http.client.HTTPException) as exc:
                raise RegistryUnavailableError(f"download interrupted: {exc}"[:300]) from None

    def _too_big(self) -> str:
        return (
            f"the version's files exceed MLFLOW_MAX_DOWNLOAD_BYTES ({self.max_bytes} bytes); "
            "raise it if the model is really that large"
        )


def download_version(
    rest: MlflowRest, name: str, version: str, dest: Path, max_bytes: int = DEFAULT_MAX_BYTES
) -> int:
    """Copy every file of `name` version `version` into the empty folder `dest`; bytes written.

    UnsafeArtifactError when the registry lists something refused; RegistryUnavailableError
    when it cannot be read. Either way `dest` may hold a partial copy: the caller removes it.
    """
    root = _store_path(rest, rest.download_uri(name, version))
    job = _Download(rest, dest, max_bytes)
    job.tree(root, job.dest, 0)
    if job.files == 0:
        raise RegistryUnavailableError(f"version {version} has no files in the artifact store")
    return job.total
