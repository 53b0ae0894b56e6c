"""Errors the API answers with, and the JSON bodies they become."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ApiProblem", "Conflict", "FieldProblem", "NotFound"]


class ApiProblem(Exception):
    """An error with an HTTP status, a short code and a sentence saying what to do."""

    status = 400
    error = "bad_request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def body(self) -> dict[str, object]:
        return {"error": self.error, "detail": self.detail}


class NotFound(ApiProblem):
    status = 404
    error = "not_found"


class Conflict(ApiProblem):
    status = 409
    error = "conflict"


class FieldProblem(ApiProblem):
    """A body that is well formed but names something wrong; shaped like FastAPI's 422."""

    status = 422
    error = "unprocessable"

    def __init__(self, loc: Sequence[str | int], detail: str) -> None:
        super().__init__(detail)
        self.loc = list(loc)

    def body(self) -> dict[str, object]:
        return {"detail": [{"loc": self.loc, "msg": self.detail, "type": "value_error"}]}
