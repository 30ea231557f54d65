"""The profiles the emulator offers, with their constants and default values (`GET /profiles/{name}`)."""

from __future__ import annotations

PROFILES: dict[str, dict[str, str]] = {
    # The emulator runs DOCKER_CMD as a local shell command; DOCKER_REPO and DOCKER_TAG are accepted and ignored.
    "docker-batch": {"DOCKER_REPO": "library/ubuntu", "DOCKER_TAG": "latest", "DOCKER_CMD": ""},
    "docker-network": {"DOCKER_REPO": "library/ubuntu", "DOCKER_TAG": "latest", "DOCKER_CMD": ""},
}


def profile_json(name: str) -> dict[str, object]:
    return {"name": name, "constants": [{"name": key, "value": value} for key, value in PROFILES[name].items()]}
