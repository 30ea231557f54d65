import sys

from airflow_provider_batch.demo.runner import main

sys.exit(main())
