"""Defaults and their checks, in one place.

Library functions take these objects explicitly; only the CLI and the app read flags and environment variables.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from qa.errors import SettingsError

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ChunkSettings:
    """How documents are cut into passages, in the embedding model's own word pieces.

    ``max_tokens`` bounds the passage text, ``title_tokens`` the document title prepended when embedding; together
    with the two special tokens they must fit the model's limit, so nothing is ever truncated silently.
    """

    max_tokens: int = 200
    overlap_tokens: int = 40
    title_tokens: int = 40

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise SettingsError(f"chunk max_tokens={self.max_tokens} is too small: use at least 16")
        if not 0 <= self.overlap_tokens < self.max_tokens // 2:
            raise SettingsError(
                f"chunk overlap_tokens={self.overlap_tokens} must be between 0 and half of max_tokens "
                f"({self.max_tokens // 2 - 1})"
            )
        if self.title_tokens < 0:
            raise SettingsError(f"chunk title_tokens={self.title_tokens} must be 0 or more")

    def check_fits(self, model_max_tokens: int) -> None:
        need = self.max_tokens + self.title_tokens + 2
        if need > model_max_tokens:
            raise SettingsError(
                f"chunks of {self.max_tokens} tokens plus a {self.title_tokens}-token title need {need} tokens, "
                f"but the model reads at most {model_max_tokens}: lower max_tokens or title_tokens"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Settings:
    chunk: ChunkSettings = ChunkSettings()
    batch_size: int = 32
    default_k: int = 5
    max_k: int = 100

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise SettingsError(f"batch_size={self.batch_size} must be at least 1")


DEFAULT = Settings()
