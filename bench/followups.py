"""Follow-up questions: SQuAD question sets with a history, the follow-up rule's thresholds, and the figures.

    .venv/bin/python bench/followups.py            # build the sets, tune on even articles, report odd ones + seeds

The sets (``qa eval``'s questions format, with ``history`` and ``doc``) are built from SQuAD v1.1 dev by one
documented rule and written to ``bench/results/followups/`` (one file per set and half of the articles):

- ``followup``: for each pair of consecutive questions on one article (file order), when the second names the
  article's subject (its title, case-insensitive, with a leading "the"; else a title's last word when that is a
  capitalised name of 4 letters or more: "Tesla" for "Nikola Tesla"), the second with that subject replaced by a
  pronoun ("it", "its"; "they", "their" when the title is a plural ending in -s), and the first as its history;
- ``standalone``: the same second questions as written (they name their subject), with the same history;
- ``switch``: the same second questions as written, after the first question of the next article (a new topic).

``standalone`` and ``switch`` are the questions that need no history: the handling must not hurt them. The
follow-up rule's thresholds (``FollowupSettings``) are chosen on the questions of even-numbered articles (the half
``bench/fit_answers.py`` fitted answer selection on) and reported on odd-numbered ones; the hand-written set
``bench/followups-seeds.jsonl`` over the seed corpus is reported as it is. Every figure comes from
``qa.evaluation.evaluate.run_mode``, as ``qa eval FILE --index DIR [--without-history]`` prints it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file: the repository's bench and qa

from bench.answers import DATA, DEFAULT_INDEX, load_questions  # noqa: E402
from bench.common import EVEN, ODD, load_average, machine  # noqa: E402
from qa.answer.followup import is_followup  # noqa: E402
from qa.assistant import Assistant  # noqa: E402
from qa.evaluation.evaluate import load_dataset, run_mode  # noqa: E402
from qa.records import Turn  # noqa: E402
from qa.settings import DEFAULT, FollowupSettings  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "results" / "followups"
SEEDS = REPO / "bench" / "followups-seeds.jsonl"
SETS = ("followup", "standalone", "switch")
REPORTED = ("success@1", "success@5", "answer_accuracy")
TUNE_EVERY = 4


def pronoun_for(title: str, possessive: bool) -> str:
    plural = title.endswith("s") and not title.endswith(("ss", "us", "is"))
    return ("their" if possessive else "they") if plural else ("its" if possessive else "it")


def rewritten(question: str, title: str) -> str | None:
    """``question`` with the article's subject replaced by a pronoun (the rule above), or None when it names none."""
    subjects = [title]
    last = title.split()[-1]
    if len(title.split()) > 1 and last.isalpha() and last[0].isupper() and len(last) >= 4:
        subjects.append(last)
    for subject in subjects:
        pattern = re.compile(rf"\b(?:the\s+)?{re.escape(subject)}(['’]s?)?(?![\w'’])", re.IGNORECASE)
        match = pattern.search(question)
        if match:
            pronoun = pronoun_for(subject, bool(match.group(1)))
            if match.start() == 0:
                pronoun = pronoun.capitalize()
            return question[:match.start()] + pronoun + question[match.end():]
    return None


def row(question: str, earlier: dict, current: dict) -> dict:
    return {"question": question, "history": [earlier["text"]], "doc": current["doc"],
            "answer": current["answers"], "article": current["article"]}


def build_sets(data: Path) -> dict[str, list[dict]]:
    """The three sets, each row tagged with its article."""
    titles = {r["_id"]: r["title"] for r in map(json.loads, (data / "corpus.jsonl").open())}
    by_article: dict[int, list[dict]] = {}
    for question in load_questions(data):
        by_article.setdefault(question["article"], []).append(question)
    articles = sorted(by_article)
    sets: dict[str, list[dict]] = {name: [] for name in SETS}
    for number, article in enumerate(articles):
        questions = by_article[article]
        new_topic = by_article[articles[(number + 1) % len(articles)]][0]
        for earlier, current in itertools.pairwise(questions):
            followup = rewritten(current["text"], titles[current["doc"]])
            if followup is None:
                continue
            sets["followup"].append(row(followup, earlier, current))
            sets["standalone"].append(row(current["text"], earlier, current))
            sets["switch"].append(row(current["text"], new_topic, current))
    return sets


def write_sets(sets: dict[str, list[dict]]) -> dict[tuple[str, str], Path]:
    """One questions file per set and half: ``squad-followup-odd.jsonl``, ..."""
    OUT.mkdir(parents=True, exist_ok=True)
    paths = {}
    for (name, rows), half in itertools.product(sets.items(), (EVEN, ODD)):
        path = OUT / f"squad-{name}-{half}.jsonl"
        keep = [r for r in rows if (r["article"] % 2 == 0) == (half == EVEN)]
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in keep), encoding="utf-8")
        paths[name, half] = path
        if half == EVEN:  # every TUNE_EVERY-th even question: the grid asks each of them 8 times
            tune = OUT / f"squad-{name}-even-tune.jsonl"
            tune.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in keep[::TUNE_EVERY]),
                            encoding="utf-8")
            paths[name, "tune"] = tune
    return paths


def detection_accuracy(sets: dict[str, list[dict]], rule: FollowupSettings, half: str) -> float:
    """The share of even (or odd) questions the rule calls right: follow-ups as follow-ups, the rest as not."""
    calls = []
    for name, rows in sets.items():
        for r in rows:
            if (r["article"] % 2 == 0) == (half == EVEN):
                calls.append(is_followup(r["question"], Turn(r["history"][0]), rule) == (name == "followup"))
    return sum(calls) / len(calls)


def tune_detection(sets: dict[str, list[dict]]) -> tuple[FollowupSettings, list[dict]]:
    """The detection thresholds that classify the even half best (pure: no search)."""
    grid = []
    for words, names in itertools.product(range(4), range(3)):
        rule = replace(DEFAULT.followup, max_content_words=words, max_new_names=names)
        grid.append({"max_content_words": words, "max_new_names": names,
                     "accuracy_even": round(detection_accuracy(sets, rule, EVEN), 4)})
    best = max(grid, key=lambda g: (g["accuracy_even"], -g["max_content_words"], -g["max_new_names"]))
    return replace(DEFAULT.followup, max_content_words=best["max_content_words"],
                   max_new_names=best["max_new_names"]), grid


def with_rule(base: Assistant, rule: FollowupSettings) -> Assistant:
    return Assistant(base.searcher, base.embedder, base.index_dir, replace(base.settings, followup=rule))


def figures(assistant: Assistant, path: Path, use_history: bool = True) -> dict[str, float]:
    report, _ = run_mode(assistant, load_dataset(path), DEFAULT.retrieval.mode, 5, progress=False,
                         use_history=use_history)
    return {name: round(report.metrics[name], 4) for name in REPORTED if name in report.metrics}


def tune_search(base: Assistant, rule: FollowupSettings, paths: dict) -> tuple[FollowupSettings, list[dict]]:
    """On the three even sets (every ``TUNE_EVERY``-th question of each): the boost and the number of answer names
    with the best mean success@1, then whether the answer sentence is chosen with the subject added (by mean
    answer accuracy)."""
    grid = []

    def measure(candidate: FollowupSettings) -> dict:
        assistant = with_rule(base, candidate)
        per_set = {name: figures(assistant, paths[name, "tune"]) for name in SETS}
        entry = {"boost": candidate.boost, "answer_names": candidate.answer_names,
                 "answer_with_subject": candidate.answer_with_subject,
                 **{f"{name} {metric}": value for name, f in per_set.items() for metric, value in f.items()}}
        for metric in ("success@1", "answer_accuracy"):
            entry[f"mean {metric}"] = round(sum(f[metric] for f in per_set.values()) / len(SETS), 4)
        grid.append(entry)
        print(json.dumps(entry), flush=True)
        return entry

    for boost, answer_names in itertools.product((0.0, 1.0, 2.0), (0, 2)):
        measure(replace(rule, boost=boost, answer_names=answer_names, answer_with_subject=True))
    best = max(grid, key=lambda g: g["mean success@1"])
    rule = replace(rule, boost=best["boost"], answer_names=best["answer_names"])
    other = measure(replace(rule, answer_with_subject=False))
    return replace(rule, answer_with_subject=best["mean answer_accuracy"] >= other["mean answer_accuracy"]), grid


def report(assistant: Assistant, paths: dict[str, Path]) -> dict[str, dict]:
    """Each set with the history handling and without it (every question asked alone)."""
    return {name: {"questions": sum(1 for _ in path.open()), "with_history": figures(assistant, path),
                   "without_history": figures(assistant, path, use_history=False)} for name, path in paths.items()}


def seed_assistant(index: Path) -> Assistant:
    """The repository's corpus/ (the seed documents) indexed into ``index`` with the packaged model."""
    from qa.embed.embedders import embedder_for
    from qa.index.build import build_index

    build_index(REPO / "corpus", index, embedder_for(), progress=False)
    return Assistant.load(index)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="the SQuAD index (qa eval's folder)")
    parser.add_argument("--seed-index", type=Path, default=Path("index-eval/seed-corpus"))
    parser.add_argument("--no-tune", action="store_true", help="report with the settings' defaults")
    args = parser.parse_args(argv)
    sets = build_sets(args.data)
    paths = write_sets(sets)
    print(json.dumps({name: len(rows) for name, rows in sets.items()}), "questions the rule produced", flush=True)
    base = Assistant.load(args.index)
    rule, detection, search = DEFAULT.followup, [], []
    if not args.no_tune:
        rule, detection = tune_detection(sets)
        rule, search = tune_search(base, rule, paths)
    chosen = with_rule(base, rule)
    results = {"chosen": asdict(rule), "detection_grid": detection, "search_grid": search,
               "detection_accuracy_odd": round(detection_accuracy(sets, rule, ODD), 4),
               "squad_odd": report(chosen, {name: paths[name, ODD] for name in SETS}),
               "seeds": report(with_rule(seed_assistant(args.seed_index), rule), {"seeds": SEEDS}),
               "machine": machine(), "load_average": load_average()}
    (OUT / "figures.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(json.dumps({key: results[key] for key in ("chosen", "detection_accuracy_odd", "squad_odd", "seeds",
                                                    "load_average")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
