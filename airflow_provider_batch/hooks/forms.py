"""The connection form on Airflow < 3.2, built from the same `conn-fields` that 3.2+ reads from get_provider_info.

One description of each field (backends.py's table, connection_fields.py's dicts) gives both forms: a boolean
field becomes a checkbox, `format: password` a password box, `format: multiline` a text area, anything else a line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_batch.backends import connection_type


def ui_field_behaviour(conn_type: str) -> dict[str, Any]:
    """`get_ui_field_behaviour` of the connection type's hook: the table's dict, copied."""
    return dict(connection_type(conn_type).ui_field_behaviour)


def connection_form_widgets(conn_type: str) -> dict[str, Any]:
    """`get_connection_form_widgets` of the connection type's hook (Flask-AppBuilder fields; imported only here)."""
    return form_widgets(connection_type(conn_type).conn_fields)


def form_widgets(conn_fields: Mapping[str, Any]) -> dict[str, Any]:
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextAreaFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import BooleanField, PasswordField, StringField

    widgets: dict[str, Any] = {}
    for name, spec in conn_fields.items():
        schema = spec.get("schema") or {}
        kinds = schema.get("type") or []
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        label = lazy_gettext(spec.get("label") or name)
        description = spec.get("description") or ""
        if "boolean" in kinds:
            widgets[name] = BooleanField(label, default=bool(schema.get("default")), description=description)
        elif schema.get("format") == "password":
            widgets[name] = PasswordField(label, widget=BS3PasswordFieldWidget(), description=description)
        elif schema.get("format") == "multiline":
            widgets[name] = StringField(label, widget=BS3TextAreaFieldWidget(), description=description)
        else:
            widgets[name] = StringField(label, widget=BS3TextFieldWidget(), description=description)
    return widgets
