"""Job-page links: one placeholder convention for every backend's URL template.

A connection may say where a job's page is in the scheduler's UI (Armada's `lookout_url_template`, Qarnot's
`console_url_template`, Apolo's `job_url_template`). Every template uses `{name}` placeholders: `{job_id}` always,
plus what the backend knows about the job (`{queue}` and `{job_set_id}` on Armada, `{name}` on Qarnot and Apolo).
The forms an original API defined are still accepted: Armada's `<job_id>`, Qarnot's `{uuid}`, Apolo's `{id}`.

A placeholder the backend does not know (a typo such as `{jobid}`, or braces that belong to the URL) is left in the
link as it is written, so a wrong template shows up as a visibly wrong link instead of failing the task.
Values are percent-encoded, so a queue or job name cannot change the shape of the URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

_BRACED = r"\{([A-Za-z_][A-Za-z0-9_]*)\}"


def fill_url_template(template: str, values: Mapping[str, str], aliases: Mapping[str, str] | None = None) -> str:
    """`template` with each `{key}` of `values` replaced by its value, and each alias (an older placeholder such as
    `<job_id>`, written out in full) replaced by the value of the key it stands for. Unknown placeholders stay."""
    aliases = dict(aliases or {})
    unknown_targets = sorted(set(aliases.values()) - set(values))
    if unknown_targets:
        raise ValueError(f"aliases name keys {unknown_targets} that have no value")
    tokens = sorted(aliases, key=len, reverse=True)  # the longest alias first, should one contain another
    pattern = re.compile("|".join([*(re.escape(token) for token in tokens), _BRACED]))

    def fill(match: re.Match[str]) -> str:
        text = match.group(0)
        key = aliases[text] if text in aliases else match.group(1)
        if key not in values:
            return text
        return quote(str(values[key]), safe="")

    return pattern.sub(fill, template)
