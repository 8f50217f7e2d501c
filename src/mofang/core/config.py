"""Where Mofang keeps its state: MOFANG_HOME (files) and MOFANG_DB_URL (metadata); the optional OpenAI-compatible
LLM endpoint: MOFANG_LLM_ENDPOINT (base URL such as http://host:8000/v1), MOFANG_LLM_API_KEY, MOFANG_LLM_MODEL;
MOFANG_WEBHOOK_ALLOW: hosts or networks (comma-separated, e.g. `hooks.intra,10.2.0.0/16`) an operator lets webhooks
reach although they are loopback, private or link-local addresses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Resolved locations (and the optional LLM endpoint) of one Mofang installation."""

    home: Path
    db_url: str
    llm_endpoint: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    webhook_allow: tuple[str, ...] = ()

    @property
    def tenants_dir(self) -> Path:
        return self.home / "tenants"


def settings() -> Settings:
    """Read the settings from the environment (defaults: ./.mofang and SQLite inside it, no LLM endpoint)."""
    home = Path(os.environ.get("MOFANG_HOME", ".mofang")).expanduser().resolve()
    db_url = os.environ.get("MOFANG_DB_URL") or f"sqlite:///{home / 'mofang.db'}"
    return Settings(home=home, db_url=db_url, llm_endpoint=_env("MOFANG_LLM_ENDPOINT"),
                    llm_api_key=_env("MOFANG_LLM_API_KEY"), llm_model=_env("MOFANG_LLM_MODEL"),
                    webhook_allow=_listed("MOFANG_WEBHOOK_ALLOW"))


def _env(name: str) -> str | None:
    """An environment variable, stripped; None when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None


def _listed(name: str) -> tuple[str, ...]:
    """A comma-separated environment variable as its stripped, non-empty items."""
    return tuple(item.strip() for item in (_env(name) or "").split(",") if item.strip())
