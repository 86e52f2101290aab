"""Embed: text to vectors.

The model behind a small interface (``embedders``), the runtimes that run it (torch, OpenVINO), and the cache that
keeps every vector by model and exact text so nothing is embedded twice.
"""
