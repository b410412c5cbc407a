"""The tempose catalogue: SQLAlchemy models (store.schema), migrations and engine set-up
(store.db), queries (store.catalogue), the frame cache (store.framecache) and atomic
files (store.files).

Functions here take a Session; they never open one (the CLI owns transactions). Nothing
is imported eagerly, so code that needs only atomic files does not pay for SQLAlchemy.
"""
