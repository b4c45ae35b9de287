"""End-to-end tests: the process stack (`make run`) and the compose stack on a Docker engine."""

from __future__ import annotations

import sys
from pathlib import Path

# The helpers live next to this file under a name no other package uses.
sys.path.insert(0, str(Path(__file__).resolve().parent))
