"""airflow-provider-batch: run batch jobs on Armada, Qarnot and Apolo from Airflow DAGs."""

__version__ = "0.1.0"
