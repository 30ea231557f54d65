# Airflow 3 with this provider installed, for docker-compose.yaml (every Airflow service, the job service and the
# emulators run this image). Build: docker build -t airflow-provider-batch:local .
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

ARG AIRFLOW_VERSION
COPY --chown=airflow:root . /opt/airflow-provider-batch
WORKDIR /opt/airflow-provider-batch
# The gRPC modules are generated from protos/ first, in a throwaway venv (grpcio-tools must not change the image's
# grpcio and protobuf): setuptools lists the packages before its build step would generate them, so a wheel built
# from a clean tree would lack them.
RUN python -m venv /tmp/protoc \
    && /tmp/protoc/bin/pip install --no-cache-dir -q setuptools "$(python -c 'import tomllib; print(next(r for r in \
        tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"] if r.startswith("grpcio-tools")))')" \
    && /tmp/protoc/bin/python setup.py generate \
    && rm -rf /tmp/protoc
# Pinning apache-airflow keeps pip from changing the image's Airflow. Extras: postgres for the job service's store,
# emulators for the Qarnot storage (moto's S3).
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" "/opt/airflow-provider-batch[postgres,emulators]"
WORKDIR /opt/airflow
