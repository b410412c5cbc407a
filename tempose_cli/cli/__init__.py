"""The command line: the Typer app, shared options and helpers, one module per command."""
