"""Errors an emulator's state machine raises, independent of the wire; each server maps them to its own codes
(gRPC status codes for Armada, HTTP statuses for the REST emulators)."""

from __future__ import annotations

import enum


class ErrorKind(enum.Enum):
    INVALID_ARGUMENT = "invalid_argument"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    FAILED_PRECONDITION = "failed_precondition"


class EmulatorError(Exception):
    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def invalid(message: str) -> EmulatorError:
    return EmulatorError(ErrorKind.INVALID_ARGUMENT, message)


def not_found(message: str) -> EmulatorError:
    return EmulatorError(ErrorKind.NOT_FOUND, message)
