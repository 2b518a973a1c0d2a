"""Generate surface variants of the hand-written English, German, French, Spanish,
Czech and Ukrainian base texts (ids ending in ``-a``) into ``<lang>_variants.jsonl``.

A variant keeps the base text's group and labels and changes only what real senders
change without changing their request: greeting and sign-off, a missing subject,
phone typos and lower case, a "sent from my phone" line, missing diacritics. Quoted
lines ("> ") are never touched, because they are someone else's text.

Deterministic: every group gets its own seeded generator, so rerunning the script
after adding base texts leaves the existing variants unchanged.

Run: python classifiers/data/make_intl_variants.py
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
LANGS = ("en", "de", "fr", "es", "cs", "uk")
MAX_LINES_PER_GROUP = 3  # the base text plus at most two variants

GREETINGS = {
    "en": ["Hello,", "Hi,", "Dear Sir or Madam,", "Good afternoon,", "Hi there,", "To whom it may concern,", "Dear team,"],
    "de": ["Sehr geehrte Damen und Herren,", "Hallo,", "Guten Tag,", "Liebes Team,", "Moin,", "Hallo zusammen,"],
    "fr": ["Madame, Monsieur,", "Bonjour,", "Bonjour Madame, Monsieur,", "Bonsoir,", "Madame, Monsieur le Délégué,"],
    "es": ["Estimados señores:", "Hola,", "Buenos días,", "A quien corresponda:", "Buenas tardes,"],
    "cs": ["Dobrý den,", "Vážení,", "Vážená paní, vážený pane,", "Dobrý den, vážení,", "Zdravím,"],
    "uk": ["Добрий день!", "Доброго дня,", "Шановні пані та панове!", "Вітаю,", "Шановна службо підтримки,"],
}
SIGNOFFS = {
    "en": ["Regards,", "Kind regards,", "Thanks,", "Best,", "Yours faithfully,", "Cheers,", "Many thanks,"],
    "de": ["Mit freundlichen Grüßen", "Viele Grüße", "Beste Grüße", "MfG", "Freundliche Grüße", "Gruß"],
    "fr": ["Cordialement,", "Bien cordialement,", "Merci d'avance,", "Salutations,", "Bien à vous,"],
    "es": ["Un saludo,", "Atentamente,", "Saludos,", "Gracias,", "Reciba un cordial saludo,"],
    "cs": ["S pozdravem", "Děkuji", "S pozdravem a díky", "Hezký den", "Děkuji předem"],
    "uk": ["З повагою,", "Дякую,", "З повагою та подякою,", "Гарного дня,", "Заздалегідь дякую,"],
}
PHONE_LINES = {
    "en": ["Sent from my iPhone", "Sent from my Android phone", "Sent from Outlook for Android", "Get Outlook for iOS"],
    "de": ["Von meinem iPhone gesendet", "Gesendet von meinem Smartphone", "Von meinem Samsung Galaxy gesendet"],
    "fr": ["Envoyé de mon iPhone", "Envoyé depuis mon smartphone", "Obtenir Outlook pour Android"],
    "es": ["Enviado desde mi iPhone", "Enviado desde mi móvil", "Enviado desde mi smartphone Samsung Galaxy"],
    "cs": ["Odesláno z iPhonu", "Odesláno z mého telefonu", "Odesláno z aplikace Pošta pro Android"],
    "uk": ["Надіслано з iPhone", "Надіслано з мого телефону", "Відправлено з Android"],
}

GREETING_RE = {
    "en": r"^(dear|hello|hi|hey|good (morning|afternoon|evening)|to whom|greetings)\b",
    "de": r"^(sehr geehrte|hallo|guten (tag|morgen|abend)|liebe|moin|servus|grüß)",
    "fr": r"^(madame|monsieur|bonjour|bonsoir|cher|chère|salut)",
    "es": r"^(estimad|hola|buen(os|as)|a quien|querid)",
    "cs": r"^(dobrý den|vážen|zdravím|ahoj|dobrý večer)",
    "uk": r"^(добр|шановн|вітаю|привіт|доброго)",
}
SIGNOFF_RE = {
    "en": r"^(regards|kind regards|best regards|best|thanks|thank you|many thanks|cheers|yours (faithfully|sincerely|truly)|sincerely|yours)\b,?$",
    "de": r"^(mit freundlichen grüßen|viele grüße|beste grüße|mfg|freundliche grüße|gruß|lg|danke)[,.!]?$",
    "fr": r"^(cordialement|bien cordialement|salutations|bien à vous|merci( d'avance| par avance)?)[,.!]?$",
    "es": r"^(un saludo|saludos|atentamente|gracias|reciba un cordial saludo|cordialmente)[,.!]?$",
    "cs": r"^(s pozdravem|děkuji|děkuji předem|s pozdravem a díky|hezký den|díky)[,.!]?$",
    "uk": r"^(з повагою|дякую|заздалегідь дякую|гарного дня|з найкращими побажаннями)[,.!]?$",
}

WORD_RE = re.compile(r"\w{4,}", re.UNICODE)


def _rng(group: str, salt: str) -> random.Random:
    return random.Random(zlib.crc32(f"{group}:{salt}".encode()))


def _editable(line: str) -> bool:
    # Quoted history belongs to someone else; links and addresses must stay usable.
    return not line.lstrip().startswith(">")


def swap_greeting(body: str, lang: str, rng: random.Random) -> str:
    lines = body.split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if re.match(GREETING_RE[lang], line.strip().lower()):
            # A long first line is a greeting run on into the request ("Hi, can you
            # delete..."): replacing it would lose the request, prefixing would greet twice.
            if len(line) < 60:
                lines[i] = rng.choice([g for g in GREETINGS[lang] if g != line.strip()])
        else:
            lines.insert(i, rng.choice(GREETINGS[lang]) + "\n")
        break
    return "\n".join(lines)


def swap_signoff(body: str, lang: str, rng: random.Random) -> str:
    lines = body.split("\n")
    # Only the last few lines: a sign-off word in the middle of a letter is prose.
    for i in range(len(lines) - 1, max(-1, len(lines) - 6), -1):
        if not _editable(lines[i]):
            break
        if re.match(SIGNOFF_RE[lang], lines[i].strip().lower()):
            choices = [s for s in SIGNOFFS[lang] if s != lines[i].strip()]
            lines[i] = rng.choice(choices)
            return "\n".join(lines)
    return body


def drop_signoff_and_name(body: str, lang: str, rng: random.Random) -> str:
    lines = body.split("\n")
    for i in range(len(lines) - 1, max(-1, len(lines) - 6), -1):
        if not _editable(lines[i]):
            break
        if re.match(SIGNOFF_RE[lang], lines[i].strip().lower()):
            return "\n".join(lines[:i]).rstrip()
    return body


def typo_word(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:  # neighbouring letters swapped
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:  # a letter dropped
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]  # a letter doubled


def phone_typos(body: str, lang: str, rng: random.Random) -> str:
    lines = body.split("\n")
    editable = [i for i, line in enumerate(lines) if _editable(line) and WORD_RE.search(line)]
    if not editable:
        return body
    for _ in range(min(4, 1 + len(editable) // 3)):
        i = rng.choice(editable)
        words = [m for m in WORD_RE.finditer(lines[i]) if not any(c.isdigit() for c in m.group())]
        if not words:
            continue
        m = rng.choice(words)
        lines[i] = lines[i][: m.start()] + typo_word(m.group(), rng) + lines[i][m.end():]
    return "\n".join(lines)


def lower_case(body: str, lang: str, rng: random.Random) -> str:
    return "\n".join(line.lower() if _editable(line) else line for line in body.split("\n"))


def add_phone_line(body: str, lang: str, rng: random.Random) -> str:
    lines = body.split("\n")
    # Above the quoted history, where mail apps put it.
    cut = next((i for i, line in enumerate(lines) if not _editable(line) or line.startswith("On ") and line.rstrip().endswith("wrote:")), len(lines))
    head = "\n".join(lines[:cut]).rstrip()
    tail = "\n".join(lines[cut:])
    out = head + "\n\n" + rng.choice(PHONE_LINES[lang])
    return out + ("\n\n" + tail if tail else "")


def strip_diacritics(body: str, lang: str, rng: random.Random) -> str:
    def plain(text: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return "\n".join(plain(line) if _editable(line) else line for line in body.split("\n"))


BODY_OPS = {
    "greeting": swap_greeting,
    "signoff": swap_signoff,
    "nosignoff": drop_signoff_and_name,
    "typos": phone_typos,
    "lower": lower_case,
    "phone": add_phone_line,
    "plain": strip_diacritics,
}


def variant(base: dict, n: int) -> dict:
    lang = base["lang"]
    rng = _rng(base["group"], str(n))
    ops = ["greeting", "signoff", "nosignoff", "typos", "lower", "phone"]
    if lang in ("de", "fr", "es", "cs"):
        ops.append("plain")
    chosen = rng.sample(ops, rng.choice([2, 2, 3]))
    if "signoff" in chosen and "nosignoff" in chosen:
        chosen.remove("signoff")
    body = base["body"]
    for op in ops:  # fixed order keeps the result independent of sample order
        if op in chosen:
            body = BODY_OPS[op](body, lang, rng)
    subject = base["subject"]
    if subject and rng.random() < 0.4:
        subject = ""
    elif "lower" in chosen:
        subject = subject.lower()
    return {"id": f"{base['group']}-{'bc'[n]}", "group": base["group"], "lang": lang,
            "labels": list(base["labels"]), "subject": subject, "body": body}


def variants_for(base: dict) -> list[dict]:
    count = 2 if _rng(base["group"], "count").random() < 0.6 else 1
    out: list[dict] = []
    seen = {(base["subject"], base["body"])}
    for n in range(min(count, MAX_LINES_PER_GROUP - 1)):
        v = variant(base, n)
        if (v["subject"], v["body"]) not in seen:
            seen.add((v["subject"], v["body"]))
            out.append(v)
    return out


def main() -> None:
    for lang in LANGS:
        bases = []
        for path in sorted(HERE.glob(f"{lang}_*.jsonl")):
            if path.name == f"{lang}_variants.jsonl":
                continue
            with path.open(encoding="utf-8") as fh:
                bases += [json.loads(line) for line in fh if line.strip()]
        rows = [v for base in bases if base["id"].endswith("-a") for v in variants_for(base)]
        target = HERE / f"{lang}_variants.jsonl"
        if not rows:
            target.unlink(missing_ok=True)
            continue
        with target.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{target.name}: {len(rows)} variants of {len(bases)} base texts")


if __name__ == "__main__":
    main()
