"""Regenerate the variant lines (-b, -c) of the Polish corpus from its hand-written base lines (-a).

Every base text in ``pl_*.jsonl`` has id ``<group>-a``. This script rewrites each file so that
every base line is followed by up to two mechanical variants of it, sharing its group:

- ``-b``: the text as typed on a phone without Polish diacritics ("prosze o usuniecie");
  when the base text already has none, a lower-cased copy with phone typos instead.
- ``-c``: one of: phone typos, another greeting and sign-off, or the subject left empty
  (only when the body alone carries the request, i.e. is long enough).

Variants never change what the sender asks for, so they carry the base line's labels. The
output is deterministic (seeded by the group id) so re-running it changes nothing, and the
grouped cross-validation keeps every variant on the same side as its base text.

Run: python classifiers/data/make_pl_variants.py
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

DATA = Path(__file__).resolve().parent

_PLAIN = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")

GREETINGS = [
    "Dzień dobry,", "Dzien dobry", "Witam,", "Witam", "Szanowni Państwo,", "Hej,",
    "Dobry wieczór,", "Cześć,", "Szanowny Panie Inspektorze,", "Dzień dobry Państwu,",
]
SIGNOFFS = [
    "Pozdrawiam", "Z poważaniem", "pozdr", "Dziękuję i pozdrawiam", "Z wyrazami szacunku",
    "dzieki", "Pozdrawiam serdecznie", "Łączę pozdrowienia", "Dziękuję z góry",
]
_GREETING_RE = re.compile(
    r"^(dzie[nń] dobry( pa[nń]stwu)?|witam( serdecznie)?|szanown[iay][^\n]{0,40}|hej|cze[sś][cć]|dobry wiecz[oó]r)[,!.]?$",
    re.IGNORECASE,
)
_SIGNOFF_RE = re.compile(
    r"^(pozdrawiam( serdecznie)?|z powa[zż]aniem|pozdr\.?|z wyrazami szacunku|dzi[eę]kuj[eę]( i pozdrawiam| z g[oó]ry)?|dzieki|dzięki|[łl][aą]cz[eę] pozdrowienia|pozdrawiam[, ]+[^\n]{0,20})[,!.]?$",
    re.IGNORECASE,
)
# Neighbouring keys on a Polish (QWERTY) phone keyboard, for substitution typos.
_NEAR = {
    "a": "sqz", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj",
    "i": "uo", "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o",
    "r": "et", "s": "ad", "t": "ry", "u": "yi", "w": "qe", "y": "tu", "z": "xa",
}
MIN_BODY_WITHOUT_SUBJECT = 80


def strip_diacritics(text: str) -> str:
    return text.translate(_PLAIN)


def has_diacritics(text: str) -> bool:
    return text != strip_diacritics(text)


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["swap", "drop", "double", "near"])
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    near = _NEAR.get(word[i].lower())
    return word[:i] + (rng.choice(near) if near else word[i]) + word[i + 1:]


def add_typos(text: str, rng: random.Random, count: int) -> str:
    """Put `count` phone typos into words of 5+ letters, leaving quoted lines, numbers,
    addresses and links alone (a typo there would change data, not spelling)."""
    lines = text.split("\n")
    spots = []
    for li, line in enumerate(lines):
        if line.startswith(">"):
            continue
        for m in re.finditer(r"[^\W\d_]{5,}", line):
            start, end = m.span()
            around = line[max(0, start - 1):end + 1]
            if any(c in around for c in "@/:.") and not around.endswith((".", ":")):
                continue
            spots.append((li, start, end))
    if not spots:
        return text
    chosen = sorted(rng.sample(spots, min(count, len(spots))), reverse=True)
    for li, start, end in chosen:
        line = lines[li]
        lines[li] = line[:start] + _typo(line[start:end], rng) + line[end:]
    return "\n".join(lines)


def swap_greeting(body: str, rng: random.Random) -> str | None:
    lines = body.split("\n")
    changed = False
    if lines and _GREETING_RE.match(lines[0].strip()):
        options = [g for g in GREETINGS if g.lower() != lines[0].strip().lower()]
        lines[0] = rng.choice(options)
        changed = True
    # the sign-off is one of the last three non-quoted lines
    for k in range(len(lines) - 1, max(-1, len(lines) - 4), -1):
        if lines[k].startswith(">"):
            continue
        if _SIGNOFF_RE.match(lines[k].strip()):
            options = [s for s in SIGNOFFS if s.lower() != lines[k].strip().lower()]
            lines[k] = rng.choice(options)
            changed = True
            break
    return "\n".join(lines) if changed else None


def variants(base: dict) -> list[dict]:
    group = base["group"]
    rng = random.Random(group)
    subject, body = base["subject"], base["body"]
    out = []

    if has_diacritics(subject + body):
        b_subject, b_body = strip_diacritics(subject), strip_diacritics(body)
    else:
        b_subject = subject.lower()
        b_body = add_typos(body.lower() if len(body) < 400 else body, rng, 2)
    if (b_subject, b_body) != (subject, body):
        out.append({**base, "id": f"{group}-b", "subject": b_subject, "body": b_body})

    choices = ["typos", "greeting"]
    if subject and len(body) >= MIN_BODY_WITHOUT_SUBJECT:
        choices.append("no_subject")
    c_subject, c_body = subject, body
    for kind in rng.sample(choices, len(choices)):
        if kind == "no_subject":
            c_subject = ""
            break
        if kind == "greeting":
            swapped = swap_greeting(body, rng)
            if swapped is not None:
                c_body = swapped
                break
        if kind == "typos":
            c_body = add_typos(body, rng, 1 + len(body) // 250)
            if c_body != body:
                break
    seen = {(subject, body)} | {(v["subject"], v["body"]) for v in out}
    if (c_subject, c_body) not in seen:
        out.append({**base, "id": f"{group}-c", "subject": c_subject, "body": c_body})
    return out


def _key_order(rec: dict) -> dict:
    return {k: rec[k] for k in ("id", "group", "lang", "labels", "subject", "body")}


def rebuild(path: Path) -> int:
    bases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            if rec["id"].endswith("-a"):
                bases.append(rec)
    lines = []
    for base in bases:
        for rec in [base, *variants(base)]:
            lines.append(json.dumps(_key_order(rec), ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def main() -> None:
    total = 0
    for path in sorted(DATA.glob("pl_*.jsonl")):
        n = rebuild(path)
        total += n
        print(f"{path.name}: {n} lines")
    print(f"total: {total} lines")


if __name__ == "__main__":
    main()
