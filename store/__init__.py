"""The tempose catalogue: SQLAlchemy models, migrations, frame cache and queries.

Functions here take a Session; they never open one (the CLI owns transactions).
"""

from store.db import CatalogueError, open_catalogue, session_factory
from store.schema import Athlete, Base, Clip, ClipTag, Evaluation, Export, LabelSet, Run

__all__ = [
    "Athlete", "Base", "CatalogueError", "Clip", "ClipTag", "Evaluation", "Export",
    "LabelSet", "Run", "open_catalogue", "session_factory",
]
