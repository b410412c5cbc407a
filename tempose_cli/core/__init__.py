"""Core: errors, workspace, labels, sidecar, catalogue look-ups, geometry conventions,
frame sampling."""
