"""Apply Alembic migrations from code: ``chat migrate`` and ``chat serve`` at start."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from chat.settings import Settings
from chat.store.sql import make_engine

ROOT = Path(__file__).resolve().parents[2]


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["url"] = url
    return config


async def upgrade_async(settings: Settings) -> None:
    """Bring the database to the newest schema (creates the SQLite file if needed)."""
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    config = alembic_config(url)
    engine = make_engine(url)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()


def upgrade(settings: Settings) -> None:
    asyncio.run(upgrade_async(settings))
