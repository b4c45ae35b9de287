"""The typed HTTP client of the churn inference API (docs/api.md); no Streamlit in here."""
