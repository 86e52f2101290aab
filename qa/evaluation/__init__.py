"""Evaluation: datasets, runs and the standard metrics behind ``qa eval``."""
