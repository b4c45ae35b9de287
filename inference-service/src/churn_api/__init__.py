"""Telco churn inference API."""

__version__ = "0.1.0"
