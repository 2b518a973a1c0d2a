"""Detect the language a message is written in: an ISO 639-1 code, or "und" when unknown.

Offline, with lingua (its models ship in the wheel). Two detectors, each built once, lazily:

- Texts of 120 characters or more go to a low-accuracy (trigram-only) detector over every
  language we expect, fed the first 400 characters. Measured on the requests corpus (285 letters,
  12 languages) it is right on every letter at 200-600 characters and costs about 0.3 ms a call,
  which keeps the classifier inside its budget of 10,000 messages in 10 s. The high-accuracy
  detector is no better there and costs ~3 s to load all its models.
- Short texts go to a high-accuracy detector over a smaller core set of languages, because the
  trigram-only mode is unreliable below ~120 characters ("please delete my data" came out
  Romanian). Restricting the set keeps its one-off model load near 1.3 s instead of ~3.7 s.

A long text that is unmistakably Polish skips the detector (`_unmistakably_polish`): every
quarter of the slice the detector would see carries a Polish-only letter (ą ę ł ś ź ż ń) and
the slice holds at least three distinct words that only Polish writes ("się", "jest", "przez",
"proszę", ...). Polish is more than half of the mailbox, and the detector costs ~0.39 ms on a
Polish slice of 400 characters, the largest single cost of preparing a message. Measured over
13,152 long texts (2,000 generated messages, the shared mime and request corpora, the
classifier's data): the rule fires on 2,605 of them (909 of the 1,174 Polish generated ones)
and the detector says "pl" on every one; on 4,000 texts spliced from a Polish and a non-Polish
letter it fired 75 times, all on splices the detector also calls Polish. A slice with a foreign
quarter (a bilingual letter, an English quote) goes to the detector as before. A shorter slice
was no way out: at 200 characters the detector saves only ~0.1 ms and changed 14 answers.

Polish is the mailbox's main language, and Polish typed without diacritics on a phone ("prosze
usunac moje dane") is easily taken for Czech, Slovak or Croatian in a short text. So a short text
that carries Polish-only letters (ą ę ł ś ź ż ń) or at least two common Polish words is
"pl" whatever the detector says; the cost of a wrong "pl" is an acknowledgement in the mailbox's
default language, which is what an "und" would get anyway.
"""

from __future__ import annotations

import re
import threading

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

UNDETERMINED = "und"

# Every language we may plausibly receive at an EU company's DPO mailbox (covers the languages
# of the requests corpus: cs de el en es fr hr it nl pt ro sv, plus our own pl and neighbours).
ALL_LANGUAGES: tuple[Language, ...] = (
    Language.POLISH, Language.ENGLISH, Language.GERMAN, Language.FRENCH, Language.SPANISH,
    Language.CZECH, Language.SLOVAK, Language.UKRAINIAN, Language.RUSSIAN, Language.BELARUSIAN,
    Language.ITALIAN, Language.DUTCH, Language.PORTUGUESE, Language.SWEDISH, Language.DANISH,
    Language.BOKMAL, Language.FINNISH, Language.HUNGARIAN, Language.ROMANIAN, Language.CROATIAN,
    Language.SLOVENE, Language.BULGARIAN, Language.GREEK, Language.LITHUANIAN, Language.LATVIAN,
    Language.ESTONIAN,
)

# The short-text set: the languages most of our mail is in, the ones Polish is confused with, and
# every language of the shared request letters (without pt, ro, sv, hr a short letter in those
# came out "und"; Greek is told by its script alone, see _GREEK).
CORE_LANGUAGES: tuple[Language, ...] = (
    Language.POLISH, Language.ENGLISH, Language.GERMAN, Language.FRENCH, Language.SPANISH,
    Language.CZECH, Language.SLOVAK, Language.UKRAINIAN, Language.RUSSIAN, Language.ITALIAN,
    Language.DUTCH, Language.PORTUGUESE, Language.ROMANIAN, Language.SWEDISH, Language.CROATIAN,
)

SHORT_TEXT = 120  # below this many characters the trigram-only mode is unreliable
LONG_SLICE = 400  # characters of a long text the detector looks at
SHORT_MIN_CONFIDENCE = 0.35  # below this a short text is "und" rather than a guess

# Not ć: Croatian writes it too, and "U slučaju da ih obrađujete" came out Polish.
_POLISH_LETTERS = re.compile(r"[ąęłśźżńĄĘŁŚŹŻŃ]")
_POLISH_WORDS = frozenset(
    """prosze dzien dobry witam pozdrawiam dziekuje dziekuje usunac usuniecie usuniecia
    moje moich moja mnie danych dane osobowych osobowe wypisz wypisanie wypisac zgody zgode
    cofam sprzeciw newslettera marketingowych marketingu prosba prosbe wniosek
    informacji dostep kopie konta konto jestem jest oraz ktore ktorych sie zeby aby""".split()
)
_WORD = re.compile(r"[^\W\d_]+")
# Letters no other language of ALL_LANGUAGES writes but Lithuanian (ą ę), and words none of
# them writes: not "nie" (German), "moje"/"jej"/"tak"/"ale" (Czech, Slovak), "to" (English).
_POLISH_ONLY_LETTER = re.compile(r"[ąęłśźżńĄĘŁŚŹŻŃ]")
_POLISH_ONLY_WORDS = frozenset(
    """się jest że oraz przez dla czy lub także również będzie proszę dzień dziękuję pozdrawiam
    moich danych osobowych który która które których jestem są był była było może można przy
    jego mnie zgodnie już bardzo tylko jeśli więc""".split()
)
_QUARTERS = 4
_MIN_POLISH_WORDS = 3
# Greek script is used by one language we receive: a short Greek text needs no model (the
# short-text detector carries no Greek model and called every short Greek letter "und").
_GREEK = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")

_lock = threading.Lock()
_long: LanguageDetector | None = None
_short: LanguageDetector | None = None


def _long_detector() -> LanguageDetector:
    global _long
    if _long is None:
        with _lock:
            if _long is None:
                _long = LanguageDetectorBuilder.from_languages(*ALL_LANGUAGES).with_low_accuracy_mode().build()
    return _long


def _short_detector() -> LanguageDetector:
    global _short
    if _short is None:
        with _lock:
            if _short is None:
                _short = LanguageDetectorBuilder.from_languages(*CORE_LANGUAGES).build()
    return _short


def _looks_polish(text: str) -> bool:
    if _POLISH_LETTERS.search(text):
        return True
    words = {w.lower() for w in _WORD.findall(text)}
    return len(words & _POLISH_WORDS) >= 2


def _unmistakably_polish(head: str) -> bool:
    """True when every quarter of `head` has a Polish-only letter and it has 3+ Polish-only words.

    Both conditions together: letters alone would let Lithuanian (ą ę) or a Polish name in a
    foreign letter through, words alone a quoted Polish line; the per-quarter letter test keeps
    a slice that is part Polish, part not, with the detector, which weighs the whole slice.
    """
    size = -(-len(head) // _QUARTERS)
    for start in range(0, len(head), size):
        if not _POLISH_ONLY_LETTER.search(head, start, start + size):
            return False
    found = 0
    seen: set[str] = set()
    for word in _WORD.findall(head):
        word = word.lower()
        if word in _POLISH_ONLY_WORDS and word not in seen:
            seen.add(word)
            found += 1
            if found >= _MIN_POLISH_WORDS:
                return True
    return False


def _code(language: Language | None) -> str:
    if language is None:
        return UNDETERMINED
    return language.iso_code_639_1.name.lower()


def detect_language(text: str) -> str:
    """The ISO 639-1 code of the language `text` is written in, or "und" when it cannot tell."""
    compact = " ".join(text.split())
    if not _WORD.search(compact):
        return UNDETERMINED
    if len(compact) >= SHORT_TEXT:
        head = compact[:LONG_SLICE]
        if _unmistakably_polish(head):
            return "pl"
        return _code(_long_detector().detect_language_of(head))
    if _looks_polish(compact):
        return "pl"
    letters = _WORD.findall(compact)
    greek = sum(len(_GREEK.findall(w)) for w in letters)
    if greek * 2 > sum(len(w) for w in letters):
        return "el"
    values = _short_detector().compute_language_confidence_values(compact)
    if not values or values[0].value < SHORT_MIN_CONFIDENCE:
        return UNDETERMINED
    return _code(values[0].language)
