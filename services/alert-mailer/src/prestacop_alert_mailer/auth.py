"""Bearer-token checks for the operator API, as reusable FastAPI dependencies.

Example:
    >>> require_reader = BearerTokens("operator-token-0123456789", "read-token-0123456789")
    >>> # @app.get("/alerts", dependencies=[Depends(require_reader)])
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

_bearer = HTTPBearer(auto_error=False, description="MAILER_OPERATOR_TOKEN or MAILER_READ_TOKEN")


class BearerTokens:
    """A dependency that lets a request through only with ``Authorization: Bearer <one of>``.

    Answers 401 with ``WWW-Authenticate: Bearer`` otherwise; tokens are compared in constant time.
    """

    def __init__(self, *tokens: str) -> None:
        if not tokens or not all(tokens):
            raise ValueError("BearerTokens needs at least one non-empty token")
        self._tokens = [token.encode() for token in tokens]

    def __call__(
        self, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> None:
        given = credentials.credentials.encode() if credentials is not None else b""
        # Compare against every token (no early exit), so timing tells nothing about which.
        matches = [secrets.compare_digest(given, token) for token in self._tokens]
        if credentials is None or not any(matches):
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail="a valid bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
