"""The seed SDK's exception names (`qarnot.exceptions`), as aliases of our typed errors, so `except
MissingTaskException:` in a script catches what our client raises. Each is also a `QarnotError` (and a
`SchedulerError`) with the server's own message."""

from __future__ import annotations

from airflow_provider_batch.clients.qarnot.errors import (
    QarnotBadRequestError,
    QarnotError,
    QarnotMissingBucketError,
    QarnotMissingError,
    QarnotMissingJobError,
    QarnotMissingPoolError,
    QarnotMissingProfileError,
    QarnotMissingTaskError,
    QarnotNotEnoughCreditsError,
    QarnotQuotaReachedError,
    QarnotStorageUnavailableError,
    QarnotUnauthorizedError,
)

QarnotGenericException = QarnotError
QarnotException = QarnotError
UnauthorizedException = QarnotUnauthorizedError
NotEnoughCreditsException = QarnotNotEnoughCreditsError
MaxTaskException = QarnotQuotaReachedError
MaxJobException = QarnotQuotaReachedError
MaxPoolException = QarnotQuotaReachedError
MissingTaskException = QarnotMissingTaskError
MissingJobException = QarnotMissingJobError
MissingPoolException = QarnotMissingPoolError
MissingProfileException = QarnotMissingProfileError
MissingBucketException = QarnotMissingBucketError
MissingTaskInstanceException = QarnotMissingError
BucketStorageUnavailableException = QarnotStorageUnavailableError
BadRequestException = QarnotBadRequestError

__all__ = [
    "BadRequestException",
    "BucketStorageUnavailableException",
    "MaxJobException",
    "MaxPoolException",
    "MaxTaskException",
    "MissingBucketException",
    "MissingJobException",
    "MissingPoolException",
    "MissingProfileException",
    "MissingTaskException",
    "MissingTaskInstanceException",
    "NotEnoughCreditsException",
    "QarnotException",
    "QarnotGenericException",
    "UnauthorizedException",
]
