"""python -m airflow_provider_batch.emulators --help"""

import sys

from airflow_provider_batch.emulators.cli import main

if __name__ == "__main__":
    sys.exit(main())
