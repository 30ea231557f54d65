"""apolo wire client: no Airflow imports."""
