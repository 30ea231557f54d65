import json
from importlib import resources

import jsonschema
from airflow.providers_manager import ProvidersManager

from airflow_provider_batch.get_provider_info import get_provider_info


def test_provider_info_passes_airflows_own_schema():
    schema = json.loads((resources.files("airflow") / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_airflow_discovers_the_provider_and_its_connection_form():
    manager = ProvidersManager()
    assert "airflow-provider-batch" in manager.providers
    assert "armada" in manager.hooks
    info = get_provider_info()["connection-types"][0]
    behaviour = info["ui-field-behaviour"]
    assert set(behaviour["hidden-fields"]) <= {"description", "host", "port", "login", "password", "schema", "extra"}
    for field in info["conn-fields"].values():
        assert field["label"] and "type" in field["schema"]


def test_every_listed_module_and_class_imports():
    info = get_provider_info()
    for key in ("hooks", "operators", "triggers"):
        for entry in info[key]:
            for module in entry["python-modules"]:
                __import__(module)
    for path in [*info["extra-links"], *(c["hook-class-name"] for c in info["connection-types"])]:
        module, _, name = path.rpartition(".")
        assert getattr(__import__(module, fromlist=[name]), name)
