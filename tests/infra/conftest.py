"""Fixtures for the infrastructure tests: the parsed Terraform modules."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The helpers live next to this file under a name no other package uses.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from infra_hcl import TERRAFORM, Module, load_module


@pytest.fixture(scope="session")
def root() -> Module:
    """The root module."""
    return load_module(TERRAFORM)


@pytest.fixture(scope="session")
def service_module() -> Module:
    """modules/ecs-service."""
    return load_module(TERRAFORM / "modules" / "ecs-service")


@pytest.fixture(scope="session")
def network_module() -> Module:
    """modules/network."""
    return load_module(TERRAFORM / "modules" / "network")
