"""armada wire client: no Airflow imports."""
