"""Telco churn Streamlit console."""
