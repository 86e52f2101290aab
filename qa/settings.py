"""Defaults and their checks, in one place.

Library functions take these objects explicitly; only the CLI and the app read flags and environment variables.
"""

from __future__ import annotations

import re
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


MODES = ("dense", "lexical", "hybrid")
DEFAULT_MODE = "hybrid"
FUSIONS = ("blend", "rrf")
NORMALISERS = ("corpus", "zscore", "minmax")


@dataclass(frozen=True)
class LexicalSettings:
    """BM25 as written into each generation (``qa.index.lexical``); a change rewrites the lexical index, never vectors.

    k1 = 0.5 and b = 0.3 (flatter term frequency, milder length normalisation than the usual 1.2 / 0.75) were chosen
    for hybrid search by bench/tune.py on the SciFact train split and held-out SQuAD questions (README).
    """

    k1: float = 0.5
    b: float = 0.3
    method: str = "lucene"

    def __post_init__(self) -> None:
        if not 0 <= self.k1 <= 10:
            raise SettingsError(f"BM25 k1={self.k1} must be between 0 and 10 (usual: 0.9-1.5)")
        if not 0 <= self.b <= 1:
            raise SettingsError(f"BM25 b={self.b} must be between 0 and 1 (usual: 0.4-0.9)")
        if self.method not in ("lucene", "robertson", "atire"):
            raise SettingsError(f"BM25 method {self.method!r} is unknown: use lucene, robertson or atire")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RetrievalSettings:
    """How a question is searched (``qa.assistant``, ``qa.search.fusion``); query-time only, no rebuild needed.

    ``normaliser`` puts dense and BM25 scores on one scale before the ``blend``: ``corpus`` (z-scores against every
    chunk, ``qa.index.calibration``), ``zscore`` or ``minmax`` (over the fetched candidates only).
    ``dense_weight`` is the dense side's share in the ``blend`` fusion (the lexical side gets the rest); the defaults
    (hybrid, corpus z-scores, 0.65) were chosen by bench/tune.py on data we do not report (README). ``rrf_k``
    the constant of reciprocal-rank fusion. ``dedupe_containment`` is the share of a passage's word 5-grams that
    must occur in an already shown document for the passage to count as the same text published twice.
    """

    mode: str = DEFAULT_MODE
    fusion: str = "blend"
    normaliser: str = "corpus"
    dense_weight: float = 0.65
    rrf_k: int = 60
    depth: int = 100
    group_documents: bool = True
    dedupe_containment: float = 0.8

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise SettingsError(f"search mode {self.mode!r} is unknown: use one of {', '.join(MODES)}")
        if self.fusion not in FUSIONS:
            raise SettingsError(f"fusion {self.fusion!r} is unknown: use one of {', '.join(FUSIONS)}")
        if self.normaliser not in NORMALISERS:
            raise SettingsError(f"normaliser {self.normaliser!r} is unknown: use one of {', '.join(NORMALISERS)}")
        if not 0 <= self.dense_weight <= 1:
            raise SettingsError(f"dense_weight={self.dense_weight} must be between 0 and 1")
        if self.rrf_k < 1:
            raise SettingsError(f"rrf_k={self.rrf_k} must be at least 1 (usual: 60)")
        if self.depth < 1:
            raise SettingsError(f"search depth={self.depth} must be at least 1")
        if not 0 < self.dedupe_containment <= 1:
            raise SettingsError(f"dedupe_containment={self.dedupe_containment} must be above 0 and at most 1")


@dataclass(frozen=True)
class FollowupSettings:
    """How a question is resolved against the earlier turns of a conversation (``qa.answer.followup``).

    A question is a follow-up when it opens elliptically ("And Kurakhove?", "What about ..."), or holds a pronoun
    and at most ``max_new_names`` names the previous turn did not hold, or has at most ``max_content_words``
    words that carry meaning.
    A follow-up is searched with the previous turn's subject added: the names in its question (else its content
    words) and up to ``answer_names`` names from its answer sentence; the documents cited in the previous answer
    get ``boost`` times the spread (standard deviation) of the candidates' scores added to theirs. The answer
    sentence is chosen with the subject added too when ``answer_with_subject``, else (the default, 9 points better
    on the follow-ups tuned on) with the question as asked, among the passages the resolved search found. The
    values were
    chosen by bench/followups.py on SQuAD's even-numbered articles (docs/quality.md).
    """

    max_content_words: int = 0
    max_new_names: int = 1
    answer_names: int = 0
    boost: float = 1.0
    answer_with_subject: bool = False

    def __post_init__(self) -> None:
        counts = {"max_content_words": self.max_content_words, "max_new_names": self.max_new_names,
                  "answer_names": self.answer_names}
        for name, value in counts.items():
            if value < 0:
                raise SettingsError(f"{name}={value} must be 0 or more")
        if not self.boost >= 0:
            raise SettingsError(f"boost={self.boost} must be 0 or more (0: no boost)")


@dataclass(frozen=True)
class Settings:
    chunk: ChunkSettings = ChunkSettings()
    lexical: LexicalSettings = LexicalSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    followup: FollowupSettings = FollowupSettings()
    batch_size: int = 32
    default_k: int = 5
    max_k: int = 100
    # Bounds on one corpus file, so a stray huge file is reported instead of exhausting memory: the bytes are read
    # whole, and chunking costs about 160 bytes of memory per character (5M characters: ~0.8 GB, measured).
    max_file_mb: float = 256
    max_document_chars: int = 5_000_000
    # Tesseract's language packs for scanned pages, "+"-joined (Debian: tesseract-ocr-<lang> for each, e.g. deu).
    ocr_languages: str = "eng"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise SettingsError(f"batch_size={self.batch_size} must be at least 1")
        if not self.max_file_mb > 0:
            raise SettingsError(f"max_file_mb={self.max_file_mb} must be more than 0")
        if self.max_document_chars < 1:
            raise SettingsError(f"max_document_chars={self.max_document_chars} must be at least 1")
        if not re.fullmatch(r"[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*", self.ocr_languages):
            raise SettingsError(f"OCR languages {self.ocr_languages!r} are not Tesseract language names: "
                                "use e.g. eng or eng+deu")


DEFAULT = Settings()
