"""Learning: device, datasets, feature extraction, fit data, splits, fine-tuning."""
