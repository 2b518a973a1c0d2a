"""Benchmark: classify 10,000 messages with Classifier.predict_many and print messages/second.

The messages are corpus texts with variation (greetings, diacritics dropped, a quoted newsletter
footer, a signature), so sender-text extraction and language detection do real work. Prints the
whole figure and the share of each stage: sender text, language detection, features + model.
Target: 10,000 messages in under 10 s on the project's 2-core machine.

    python bench/bench_classify.py [N]
"""

from __future__ import annotations

import random
import sys
import time

from classifiers.corpus import load_corpus
from classifiers.features import fold_diacritics, model_text
from classifiers.train import load_classifier

GREETINGS = ["", "Dzień dobry,\n\n", "Hello,\n\n", "Witam\n", "Hi there,\n\n"]
ENDINGS = [
    "",
    "\n\nPozdrawiam\nJan Kowalski\ntel. 600 000 000",
    "\n\nBest regards,\nJane\nSent from my iPhone",
    "\n\nOn Mon, 3 Jun 2024 at 10:12, Optingo <news@optingo.eu> wrote:\n> Weekly deals!\n> "
    "Unsubscribe: https://optingo.eu/u\n> You receive this because you subscribed.",
]


def messages(n: int, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    corpus = load_corpus()
    out = []
    for _ in range(n):
        example = rng.choice(corpus)
        body = rng.choice(GREETINGS) + example.body + rng.choice(ENDINGS)
        if rng.random() < 0.3:
            body = fold_diacritics(body)
        subject = example.subject if rng.random() < 0.8 else ""
        out.append((subject, body))
    return out


def main(n: int = 10_000) -> None:
    from classifiers.language import detect_language
    from classifiers.textprep import sender_text

    classifier = load_classifier()
    items = messages(n)
    classifier.predict_many(items[:50])  # load language models and warm caches outside the timing
    started = time.perf_counter()
    predictions = classifier.predict_many(items)
    total = time.perf_counter() - started
    print(f"predict_many: {n} messages in {total:.2f} s = {n / total:,.0f} messages/s "
          f"(model {classifier.version}, {sum(p.triage for p in predictions)} to triage)")

    t = time.perf_counter()
    own = [sender_text(body) for _, body in items]
    t_text = time.perf_counter() - t
    t = time.perf_counter()
    for text in own:
        detect_language(text)
    t_lang = time.perf_counter() - t
    t = time.perf_counter()
    classifier.probabilities([model_text(s, o, prepared=True) for (s, _), o in zip(items, own)])
    t_model = time.perf_counter() - t
    print(f"stages: sender_text {t_text:.2f} s, detect_language {t_lang:.2f} s, features + model {t_model:.2f} s")
    # The daemon knows each message's language from parsing and passes it (predict_many's
    # `languages`); this is the figure for that path.
    with_given = time.perf_counter()
    classifier.predict_many(items, languages=["pl"] * n)
    print(f"with the language given (no detection): {time.perf_counter() - with_given:.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
