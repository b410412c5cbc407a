"""Media: video I/O, backgrounds, overlay, plots, images, exports (CSV/TRC/MOT/JSON)."""
