"""The pipeline on a Ray cluster: a build's reading, chunking and embedding (``ray_engine``) and the shards'
actors that answer questions (``shards``). The only package that imports ray; local use never loads it."""
