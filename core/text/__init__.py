"""Text handling shared by training and serving. Never imports torch."""
