"""The distributed stage: a build on a Ray cluster (``ray_engine``). Ray is imported only when a cluster is used."""
