"""The original Armada operator's helpers under a short name: `from airflow_provider_batch.utils import ...`.

They live in `airflow_provider_batch.operators.utils` (the original `armada.operators.utils`); see there.
"""

from airflow_provider_batch.operators import utils as _utils
from airflow_provider_batch.operators.utils import *  # noqa: F403  (the same names, re-exported)

__all__ = list(_utils.__all__)
