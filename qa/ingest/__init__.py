"""Ingest: from files in the corpus to documents and chunks.

The readers (one module per format) turn a file into a ``Document`` with its source label; chunking cuts a
document into sentence-aware passages bounded in the model's word pieces.
"""
