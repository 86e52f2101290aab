"""The pipeline on a Ray cluster: the only package that imports ray; local use never loads it."""
