"""Self-supervised adaptation of the embedding model to one corpus: training pairs made from the corpus itself, and
a short contrastive fine-tune of the top layers with in-batch negatives.

The objectives come from the literature on adapting dense retrievers without labels:

- **title -> passage**: a document's title is a short query its own passage answers (the pairs of the S2ORC and
  SPECTER data all-MiniLM-L6-v2 was already trained on, so for scientific text it is expected to teach little).
- **inverse cloze task** (Lee et al. 2019, "Latent Retrieval for Weakly Supervised Open Domain QA"): a sentence is
  the query, the rest of its passage (with its title) the positive; the sentence is left in the passage 10% of the
  time, as in the paper, so the model still learns that word overlap counts.
- both trained with MultipleNegativesRankingLoss (in-batch negatives, the contrastive loss of Contriever, Izacard
  et al. 2022), optionally one hard negative per pair (a BM25 neighbour, supplied by the caller: ``bench/adapt.py``
  finds it with qa's BM25).

Only the top ``trainable_layers`` transformer layers are trained: on a 2-core CPU a step through the whole model
costs about four times as much (its backward pass), and a light touch on the top layers is what a few hundred steps
on a few thousand pairs can afford without forgetting what the model knew.

It lives in ``bench/``, outside the package, because no command uses it: measured with ``bench/adapt.py``, no
objective gained the 0.01 dense nDCG@10 on the SciFact train claims that ``qa adapt`` was to ship on
(docs/quality.md, "Adapting the model to the corpus"). It stays for the next
attempt, with more steps than 2 CPU cores afford.

Pairs are pure functions of ``(title, text)`` documents::

    >>> title_pairs([("Apples", "Apples grow on trees."), ("", "No title here."), ("Same", "Same")])
    [('Apples', 'Apples grow on trees.')]
    >>> ict_pairs([("Rivers", "The Danube flows east. It is long. Boats use it.")], seed=1, keep=0.0)
    [('The Danube flows east.', 'Rivers\\nIt is long. Boats use it.')]
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.text import split_sentences

Pair = tuple[str, str]
ICT_KEEP = 0.1  # Lee et al. 2019 leave the sentence in its passage 10% of the time
MIN_SENTENCES = 3  # a passage of one or two sentences has no "rest" worth retrieving


def title_pairs(documents: Sequence[tuple[str, str]]) -> list[Pair]:
    """``(title, text)`` for every document with a title that is not its whole text."""
    return [(title.strip(), text.strip()) for title, text in documents
            if title.strip() and text.strip() and title.strip() != text.strip()]


def ict_pairs(documents: Sequence[tuple[str, str]], *, seed: int = 0, keep: float = ICT_KEEP) -> list[Pair]:
    """One inverse-cloze pair per document of at least three sentences: (a random sentence, the title and the rest)."""
    rng = random.Random(seed)
    pairs = []
    for title, text in documents:
        spans = split_sentences(text)
        if len(spans) < MIN_SENTENCES:
            continue
        pick = rng.randrange(len(spans))
        sentence = text[slice(*spans[pick])]
        rest = " ".join(text[s:e] for i, (s, e) in enumerate(spans) if i != pick or rng.random() < keep)
        pairs.append((sentence, f"{title.strip()}\n{rest}" if title.strip() else rest))
    return pairs


@dataclass(frozen=True)
class TrainingReport:
    steps: int
    pairs_seen: int
    seconds: float
    first_loss: float
    last_loss: float  # mean over the last 10 steps


def freeze_lower_layers(model, trainable_layers: int) -> None:
    """Leave only the top ``trainable_layers`` transformer layers (and nothing below them) trainable."""
    bert = model[0].auto_model
    layers = bert.encoder.layer
    if not 1 <= trainable_layers <= len(layers):
        raise ValueError(f"trainable_layers {trainable_layers} is not between 1 and {len(layers)}")
    for parameter in bert.parameters():
        parameter.requires_grad_(False)
    for layer in layers[len(layers) - trainable_layers:]:
        for parameter in layer.parameters():
            parameter.requires_grad_(True)


def train(model, pairs: Sequence[Pair], *, seconds: float, max_steps: int | None = None, batch_size: int = 32,
          learning_rate: float = 2e-5, trainable_layers: int = 2, negatives: Sequence[str] | None = None,
          seed: int = 0, warmup_steps: int = 10, on_step: Callable[[int, float], None] | None = None
          ) -> TrainingReport:
    """Fine-tune ``model`` (a SentenceTransformer, in place) on ``pairs`` until ``seconds`` or ``max_steps`` run out.

    ``negatives[i]`` is a hard negative for ``pairs[i]``. Batches are drawn from a seeded shuffle, epoch after epoch.
    """
    import torch
    from sentence_transformers.losses import MultipleNegativesRankingLoss

    if len(pairs) < 2:
        raise ValueError(f"{len(pairs)} training pair(s): in-batch negatives need at least 2")
    torch.manual_seed(seed)
    freeze_lower_layers(model, trainable_layers)
    loss_of = MultipleNegativesRankingLoss(model)
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: min(1.0, (step + 1) / warmup_steps))
    order = _batches(len(pairs), batch_size, seed)
    model.train()
    started, losses = time.perf_counter(), []
    while time.perf_counter() - started < seconds and (max_steps is None or len(losses) < max_steps):
        rows = next(order)
        columns = [[pairs[i][0] for i in rows], [pairs[i][1] for i in rows]]
        if negatives is not None:
            columns.append([negatives[i] for i in rows])
        tokenize = getattr(model, "preprocess", None) or model.tokenize  # sentence-transformers 6 renamed it
        loss = loss_of([tokenize(column) for column in columns], None)
        loss.backward()
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        losses.append(loss.item())
        if on_step:
            on_step(len(losses), losses[-1])
    model.train(False)  # inference mode again (what model.eval() does)
    tail = losses[-10:] or [float("nan")]
    return TrainingReport(len(losses), len(losses) * batch_size, round(time.perf_counter() - started, 1),
                          losses[0] if losses else float("nan"), sum(tail) / len(tail))


def _batches(count: int, batch_size: int, seed: int):
    rng = random.Random(seed)
    while True:
        order = list(range(count))
        rng.shuffle(order)
        for first in range(0, count - 1, batch_size):
            rows = order[first:first + batch_size]
            if len(rows) >= 2:
                yield rows
