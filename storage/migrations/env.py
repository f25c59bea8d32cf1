"""Alembic environment: the URL comes from Kontor's settings, passed in by storage.db.upgrade."""

from alembic import context
from sqlalchemy import create_engine, pool

from storage.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "storage.db.upgrade passes the database URL"

if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
