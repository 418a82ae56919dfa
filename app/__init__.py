"""The Streamlit dashboard over the loaded GitLab data: run `streamlit run app/gitlab_dashboard.py`."""
