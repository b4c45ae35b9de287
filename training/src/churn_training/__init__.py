"""Telco churn training job."""
