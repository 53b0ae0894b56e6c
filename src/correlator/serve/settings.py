"""Settings of the serve stage: listen address, bearer tokens with scopes, limits, CORS.

The main ``Settings`` holds these as ``settings.serve``. Tokens can come from the YAML file
or the environment, e.g. ``CORRELATOR_SERVE__TOKENS__OPS__TOKEN=s3cret`` with
``CORRELATOR_SERVE__TOKENS__OPS__SCOPES=read,write``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["Scope", "ServeSettings", "TokenSpec"]


class Scope(StrEnum):
    """What a token may do. Scopes do not imply one another: list each one a token needs."""

    READ = "read"
    WRITE = "write"
    APPROVE = "approve"


class TokenSpec(BaseModel):
    """One bearer token; its key in ``ServeSettings.tokens`` names the actor in audit entries."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    token: SecretStr = Field(description="The bearer secret; at least 16 characters")
    scopes: frozenset[Scope] = Field(
        default=frozenset({Scope.READ}), description="read, write and/or approve"
    )

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("a token needs at least 16 characters")
        return value

    @field_validator("scopes", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """Accept ``"read,write"`` as well as a list (environment variables are strings)."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class ServeSettings(BaseModel):
    """The HTTP API and web view."""

    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    tokens: dict[str, TokenSpec] = Field(
        default_factory=dict, description="Token name (the actor) → secret and scopes"
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Larger request bodies get 413 Payload Too Large"
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS; empty turns CORS off"
    )
    metrics_public: bool = Field(True, description="Serve /metrics without a token")
    default_page_size: int = Field(50, ge=1, le=500)
    max_scan: int = Field(
        10_000, ge=100, description="Most incidents one listing examines when it must sort"
    )
    ui_cookie: str = Field("correlator_token", description="Cookie the web view keeps its token in")
    ui_cookie_secure: bool = Field(False, description="Mark the web view cookie Secure (HTTPS)")
