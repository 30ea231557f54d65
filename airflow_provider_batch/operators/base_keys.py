"""Names under which the operators record a job, shared with links (which must not import the operators)."""

STATE_STORE_KEY = "batch_job"
XCOM_JOB = "batch_job"
XCOM_JOB_URL = "batch_job_url"
