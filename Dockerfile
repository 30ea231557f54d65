# Airflow 3 with this provider installed, for docker-compose.yaml (every Airflow service, the job service and the
# emulators run this image). Build: docker build -t airflow-provider-batch:local .
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

ARG AIRFLOW_VERSION
COPY --chown=airflow:root . /opt/airflow-provider-batch
# Pinning apache-airflow keeps pip from upgrading the image's Airflow. The build generates the gRPC code from protos/
# (grpcio-tools comes from pyproject's build requirements). Extras: postgres for the job service's store, emulators
# for the Qarnot storage (moto's S3).
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" "/opt/airflow-provider-batch[postgres,emulators]"
