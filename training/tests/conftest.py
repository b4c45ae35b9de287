"""Fixtures for the training package's tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def raw_frame(dataset_csv: Path) -> pd.DataFrame:
    """The IBM file as text, exactly as the job reads it."""
    return pd.read_csv(dataset_csv, dtype=str, keep_default_na=False)


@pytest.fixture
def write_csv(tmp_path: Path):
    """Write a frame (or raw text) to a CSV file and return its path."""

    def write(content: pd.DataFrame | str | bytes, name: str = "customers.csv") -> Path:
        path = tmp_path / name
        if isinstance(content, pd.DataFrame):
            content.to_csv(path, index=False)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    return write
