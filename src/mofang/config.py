"""Where Mofang keeps its state: MOFANG_HOME (files) and MOFANG_DB_URL (metadata)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Resolved locations for one Mofang installation."""

    home: Path
    db_url: str

    @property
    def tenants_dir(self) -> Path:
        return self.home / "tenants"


def settings() -> Settings:
    """Read the settings from the environment (defaults: ./.mofang and SQLite inside it)."""
    home = Path(os.environ.get("MOFANG_HOME", ".mofang")).expanduser().resolve()
    db_url = os.environ.get("MOFANG_DB_URL") or f"sqlite:///{home / 'mofang.db'}"
    return Settings(home=home, db_url=db_url)
