"""Adapters around the pure core: Redis for everything live, SQL for what lasts."""
