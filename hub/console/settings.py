"""``HUB_CONSOLE_*`` settings of the operations console.

Why these defaults: a shift is eight hours, so a session lasts at most that long and ends after
an hour without a request (a screen left open at a nursing station); five wrong passwords in a
row lock an operator for fifteen minutes, which stops guessing without locking a person out of
a night's work; the search counts matches up to 10,000 exactly and says "more than" beyond, so
a broad search over millions of messages answers as fast as a narrow one.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_CONSOLE_", extra="ignore")

    session_hours: float = Field(8.0, gt=0, description="A session ends this long after login")
    idle_minutes: float = Field(60.0, gt=0, description="A session ends after this long without a request")
    lockout_failures: int = Field(5, ge=1, description="Wrong passwords in a row that lock an operator")
    lockout_minutes: float = Field(15.0, gt=0, description="How long a lock lasts")
    logins_per_minute: int = Field(20, ge=1, description="Login attempts accepted per address per minute")
    count_cap: int = Field(10_000, ge=100, description="Search totals are exact up to this many matches")
    page_size: int = Field(50, ge=5, le=500, description="Rows per page")


@lru_cache(maxsize=1)
def console_settings() -> ConsoleSettings:
    return ConsoleSettings()
