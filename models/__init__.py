"""torch models, losses, metrics and the skeleton; never imports typer or sqlalchemy."""
