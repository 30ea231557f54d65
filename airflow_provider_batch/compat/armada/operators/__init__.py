"""`armada.operators.*` of the original armada-airflow package."""
