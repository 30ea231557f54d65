"""qarnot wire client: no Airflow imports."""
