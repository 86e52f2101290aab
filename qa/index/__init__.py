"""Index: the build and what it writes.

The incremental build, the on-disk generations swapped in atomically and their typed manifest, the FAISS vector
index, the BM25 lexical index and the calibration used to fuse their scores.
"""
