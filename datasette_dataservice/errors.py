"""The one exception type the service raises; web/ turns it into Datasette's error shape."""

from __future__ import annotations

from typing import Any


class DataServiceError(Exception):
    """A request the service refuses, with every reason and the HTTP status that fits.

    ``errors`` is the full list of messages (Datasette's ``errors`` key); ``report`` is an
    optional structured report (frictionless-style) for validation failures.
    """

    status = 400

    def __init__(
        self,
        errors: str | list[str],
        *,
        status: int | None = None,
        report: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        if status is not None:
            self.status = status
        self.report = report
        self.headers = headers or {}
        super().__init__("; ".join(self.errors))


class BadRequest(DataServiceError):
    status = 400


class Forbidden(DataServiceError):
    status = 403


class NotFound(DataServiceError):
    status = 404


class MethodNotAllowed(DataServiceError):
    status = 405


class Conflict(DataServiceError):
    status = 409


class NotImplementedProvider(DataServiceError):
    status = 501
