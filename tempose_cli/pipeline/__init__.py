"""The steps commands run: ingest, train, extract, fit, evaluate, analyze, the chain."""
