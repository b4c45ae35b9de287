"""Telco churn inference API."""
