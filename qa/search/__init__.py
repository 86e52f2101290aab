"""Search: from a question vector and its words to ranked passages.

The searcher over one loaded generation, score fusion, one passage per document with duplicates collapsed, and the
filters applied before the search.
"""
