"""The original Armada Airflow operators (`armada.operators`), under this prefix."""
