"""Benchmarks of qa: speed and scale (``speed.py``), search and answer quality, tuning, load. Each script runs as
``.venv/bin/python bench/<name>.py`` (or ``python -m bench.<name>``) from the repository root; what they share is
in ``bench.common``, and they call qa only through its public functions."""
