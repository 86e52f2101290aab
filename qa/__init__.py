"""qa: local-first extractive question answering over a folder of documents."""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["Assistant", "build_index"]

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.index.build import build_index


def __getattr__(name: str):
    # Lazy: `import qa` stays cheap; faiss and the model load only when used.
    if name == "Assistant":
        from qa.assistant import Assistant

        return Assistant
    if name == "build_index":
        from qa.index.build import build_index

        return build_index
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
