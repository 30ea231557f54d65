"""Which queue is Armada's and which is Airflow's executor queue, for plain, original-style and mapped operators."""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_batch.operators.armada import ArmadaOperator

POD = {"containers": [{"name": "main", "image": "busybox", "command": ["true"]}]}


def test_queue_alone_names_the_armada_queue() -> None:
    op = ArmadaOperator(task_id="t", job_request=POD, queue="armada-q")
    assert op.armada_queue == "armada-q"
    assert op.queue != "armada-q"


def test_with_armada_queue_queue_keeps_airflows_meaning() -> None:
    op = ArmadaOperator(task_id="t", job_request=POD, armada_queue="armada-q", queue="celery-q")
    assert (op.armada_queue, op.queue) == ("armada-q", "celery-q")


def test_executor_queue_sets_airflows_queue() -> None:
    op = ArmadaOperator(task_id="t", job_request=POD, queue="armada-q", executor_queue="celery-q")
    assert (op.armada_queue, op.queue) == ("armada-q", "celery-q")


def test_an_unmapped_task_of_airflow_3_2_keeps_the_connections_default_queue() -> None:
    # Airflow 3.2 fills a mapped task's `queue` with [operators] default_queue; partial() sent armada_queue="".
    op = ArmadaOperator(task_id="t", job_request=POD, armada_queue="", queue="default")
    assert op.armada_queue is None
    assert op.queue == "default"


def test_partial_carries_the_armada_queue_apart_from_the_executor_queue() -> None:
    with DAG("queues"):
        mapped = ArmadaOperator.partial(task_id="m", queue="armada-q", executor_queue="celery-q").expand(
            job_request=[POD, POD]
        )
        unnamed = ArmadaOperator.partial(task_id="n").expand(job_request=[POD])
    assert mapped.partial_kwargs["armada_queue"] == "armada-q"
    assert mapped.partial_kwargs["queue"] == "celery-q"
    assert unnamed.partial_kwargs["armada_queue"] == ""
    assert unnamed.partial_kwargs.get("queue") in (None, "default")
