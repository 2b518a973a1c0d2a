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
        return _code(_long_detector().detect_language_of(compact[:LONG_SLICE]))
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
