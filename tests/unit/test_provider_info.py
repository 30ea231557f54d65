import json
from importlib import resources
from typing import Any

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


# -- the one backend table drives every list --------------------------------------------------------------------------


def test_every_backend_appears_in_each_list_from_its_table_entry():
    from airflow_provider_batch.backends import BACKENDS, JOBSERVICE_CONNECTION

    info = get_provider_info()
    kinds = {c["connection-type"]: c for c in info["connection-types"]}
    assert set(kinds) == {*BACKENDS, JOBSERVICE_CONNECTION.conn_type}
    hook_modules = info["hooks"][0]["python-modules"]
    operator_modules = info["operators"][0]["python-modules"]
    for name, backend in BACKENDS.items():
        entry = kinds[name]
        assert entry["hook-class-name"] == backend.hook == backend.connection.hook
        assert entry["hook-name"] == backend.connection.hook_name
        assert entry["conn-fields"] == backend.connection.conn_fields
        assert entry["ui-field-behaviour"] == backend.connection.ui_field_behaviour
        assert backend.connection.hook_module in hook_modules and backend.operator in operator_modules
        assert backend.link in info["extra-links"]
    assert len(info["extra-links"]) == len(BACKENDS) and len(operator_modules) == len(BACKENDS)
    assert kinds["batch_jobservice"]["hook-class-name"] == JOBSERVICE_CONNECTION.hook


def test_each_hook_agrees_with_its_table_entry_and_serves_its_form():
    from airflow_provider_batch.backends import BACKENDS, JOBSERVICE_CONNECTION, connection_type

    for name, backend in BACKENDS.items():
        hook = backend.hook_class()
        connection = backend.connection
        assert (hook.backend, hook.conn_type) == (name, connection.conn_type)
        assert (hook.hook_name, hook.default_conn_name) == (connection.hook_name, connection.default_conn_name)
        assert hook.get_ui_field_behaviour() == connection.ui_field_behaviour
        operator_module = __import__(backend.operator, fromlist=["*"])
        assert any(getattr(value, "hook_class", None) is hook for value in vars(operator_module).values())
    from airflow_provider_batch.hooks.jobservice import JobServiceHook

    assert connection_type(JobServiceHook.conn_type) is JOBSERVICE_CONNECTION
    assert JobServiceHook.get_ui_field_behaviour() == JOBSERVICE_CONNECTION.ui_field_behaviour
    assert (JobServiceHook.hook_name, JobServiceHook.default_conn_name) == (
        JOBSERVICE_CONNECTION.hook_name,
        JOBSERVICE_CONNECTION.default_conn_name,
    )


def test_the_job_service_boundary_takes_its_detail_keys_from_the_table():
    from airflow_provider_batch.backends import BACKENDS
    from airflow_provider_batch.jobservice.boundary import REMOTE_BACKENDS, REMOTE_DETAILS

    assert {name: dict(b.remote_details) for name, b in BACKENDS.items()} == REMOTE_DETAILS
    assert frozenset(BACKENDS) == REMOTE_BACKENDS


def test_the_table_imports_no_airflow_and_no_hook():
    import subprocess
    import sys

    code = (
        "import sys; import airflow_provider_batch.get_provider_info as g; g.get_provider_info(); "
        "import airflow_provider_batch.jobservice.boundary; "
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith(('airflow.', "
        "'airflow_provider_batch.hooks'))); print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_old_form_widgets_come_from_the_same_conn_fields(monkeypatch):
    """Airflow < 3.2 asks hooks for Flask-AppBuilder widgets; they are built from the table's conn-fields."""
    import sys
    import types

    from airflow_provider_batch.backends import BACKENDS

    def field(kind: str) -> type:
        def init(self: Any, label: Any, widget: Any = None, default: Any = None, description: str = "") -> None:
            self.kind, self.label, self.widget, self.default, self.description = (
                kind,
                label,
                widget,
                default,
                description,
            )

        return type(kind, (), {"__init__": init})

    widgets = types.ModuleType("flask_appbuilder.fieldwidgets")
    for name in ("BS3PasswordFieldWidget", "BS3TextAreaFieldWidget", "BS3TextFieldWidget"):
        setattr(widgets, name, type(name, (), {}))
    babel = types.ModuleType("flask_babel")
    babel.lazy_gettext = lambda text: text  # type: ignore[attr-defined]
    wtforms = types.ModuleType("wtforms")
    for name in ("BooleanField", "PasswordField", "StringField"):
        setattr(wtforms, name, field(name))
    monkeypatch.setitem(sys.modules, "flask_appbuilder", types.ModuleType("flask_appbuilder"))
    monkeypatch.setitem(sys.modules, "flask_appbuilder.fieldwidgets", widgets)
    monkeypatch.setitem(sys.modules, "flask_babel", babel)
    monkeypatch.setitem(sys.modules, "wtforms", wtforms)

    for backend in BACKENDS.values():
        form = backend.hook_class().get_connection_form_widgets()
        fields = backend.connection.conn_fields
        assert list(form) == list(fields)
        for name, spec in fields.items():
            assert form[name].label == spec["label"]
    armada = BACKENDS["armada"].hook_class().get_connection_form_widgets()
    assert armada["tls"].kind == "BooleanField" and armada["tls"].default is False
    assert type(armada["ca_cert"].widget).__name__ == "BS3TextAreaFieldWidget"
    apolo = BACKENDS["apolo"].hook_class().get_connection_form_widgets()
    assert apolo["passed_config"].kind == "PasswordField"
    qarnot = BACKENDS["qarnot"].hook_class().get_connection_form_widgets()
    assert qarnot["verify_tls"].kind == "BooleanField" and qarnot["verify_tls"].default is True
