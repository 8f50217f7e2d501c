"""The metadata store's Alembic environment (`env.py`, `versions/`), run by `mofang.store.migrate`."""
