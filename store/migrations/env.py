"""Alembic environment: runs on the connection that ``store.db.open_catalogue`` holds."""

from alembic import context
from sqlalchemy import create_engine

from store.schema import Base

config = context.config
connection = config.attributes.get("connection")


def _run(conn) -> None:  # noqa: ANN001
    # render_as_batch: SQLite cannot ALTER most things in place.
    context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # `alembic revision --autogenerate` from a developer's shell
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)
