"""Ingest: from files in the corpus to documents and chunks.

The readers (one module per format) turn a file into a ``Document`` with its source label; ``corpus`` reads a
whole folder, skipping files whose bytes a previous build read; chunking cuts a document into sentence-aware
passages bounded in the model's word pieces.
"""
