"""A small image classifier on synthetic seven-segment glyphs: data, model and training loop."""
