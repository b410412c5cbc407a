"""Poses: biomechanics, flight, dive analysis, smoothing, tracking error."""
