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

A long text that is unmistakably Polish skips the detector (`_unmistakably_polish`): the slice
writes no letter Polish does not (no č š ž ř ě á é ü ė ų ..., which Czech, Slovak, Croatian,
Slovene, Sorbian and Lithuanian write beside ą ć ę ł ń ó ź ż), no function word of another
language typed in ASCII ("the", "und", "jsem", "som", "ili", "hvala", ...), has Polish in every
quarter (a Polish letter or a Polish-only word such as "jest", "oraz", "danych": a quarter with a
client or phone number and no letter still has one) and at least three distinct words only
Polish writes ("się", "jest", "przez", "proszę", "państwa", ...). Polish is more than half of the
mailbox, and the detector costs ~0.4-1.5 ms on a Polish slice, the largest single cost of
preparing a message. Measured over 12,776 long texts (1,806 generated messages, 795 of the mime
corpus, 570 request texts (letters and their sender text), 9,605 of the classifier's data) it
fires on 3,473 (1,052 of the 1,093 generated ones the detector calls Polish) and the detector
says "pl" on every one; on 149,477 texts spliced in three random runs (Polish + foreign letters
both ways and cut at random, foreign letters given a Polish subject and signature or a Polish
word in every quarter, Czech, Slovak, Croatian, Slovene, Sorbian and Lithuanian letters as they
are, without diacritics and written with Polish letters, Polish without or with some of its
diacritics, Polish + Polish without diacritics) it fired 13,731 times, all on texts the detector
also calls Polish. The rule it replaced (a Polish-only letter in every quarter, three Polish-only
words) changed the answer on 43 of them (a Polish letter with a Sorbian, Czech or English one)
and on 3,545 foreign letters with a Polish word in every quarter.
Preparing the 2,000 generated messages calls the detector 139 times instead of 356 (warm prepare
0.62 -> 0.53 ms/msg CPU, identical results); the check costs ~30 us where it fires and ~8 us where
it gives up.

A long text that is unmistakably English skips it too (`_unmistakably_english`), English being
most of the rest of the mailbox: the slice is ASCII letters only (no diacritics: not Polish with
ą, not German, French, ...); every quarter carries a word only English writes among ALL_LANGUAGES
("the", "you", "with", "which", "please", ...; not "to", "my", "we" (Polish), "is", "been"
(Dutch), "for", "and", "have" (Danish, Norwegian), "was", "will" (German), "data") and has at
least 55 % of its letters in common English words; the slice holds four distinct English-only
words; and nowhere a function word or closing of another language typed in ASCII ("nie", "sie",
"prosze", "de", "het", "und", "og", "che", "hilsen", ...), a Polish letter pair (cz, sz, rz, dz)
or a lowercase "i" (Polish "and"). A slice under 200 characters may also hold no lowercase word
of five letters or more that is not a common English word: there one foreign word can outweigh
the English. Every one of these conditions closed a case where a looser rule said "en" and the
detector did not: a bilingual letter, Polish typed without diacritics, a Polish signature
("Grzegorz Brzeczyszczykiewicz") or subject line, one foreign word in a short letter. Measured
over 12,776 long texts (1,810 generated, 954 of the mime corpus, 570 request texts, 9,605 of the
classifier's data) it fires on 1,548 and the detector says "en" on every one; over 428,608 texts
spliced in seven seeded runs (English + foreign letters both ways and cut at random, English
letters of 120-260 characters with foreign names, closings, subject lines or words injected,
foreign letters with an English subject, signature or quoted lines, letters of every language
with diacritics stripped, Polish among them) it fired 9,793 times, all "en" for the detector;
the previous rule (a 200-character floor, 40 % per quarter) fired on 3 texts the detector called
Polish or Norwegian. Preparing the 2,000 generated messages calls the detector 48 times instead
of 140 (the English fast path now takes 92 of the 98 English slices that reached it); the check
costs ~35 us where it fires and ~5 us where it gives up early.

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
# The Polish fast path (`_unmistakably_polish`). Letters Polish writes; any other letter in the
# slice (č š ž ř ě á é ü å ė ų, Cyrillic, ...) sends it to the detector: Czech, Slovak, Croatian,
# Slovene, Sorbian and Lithuanian share ą ę ć ł ń ó ź ż with Polish, and a Polish letter spliced
# with a Czech one came out Czech or Slovak while every quarter had a Polish letter.
_POLISH_DIACRITIC = re.compile(r"[ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]")
_NOT_POLISH_LETTER = re.compile(r"(?![a-zA-ZąćęłńóśźżĄĆĘŁŃÓŚŹŻ])[^\W\d_]")
_POLISH_LETTERS_RUN = re.compile(r"[a-zA-ZąćęłńóśźżĄĆĘŁŃÓŚŹŻ]+")
# Words no other language of ALL_LANGUAGES writes (nor Sorbian): not "nie" (German), "moje"/"tej"/
# "jej"/"teraz"/"tak"/"ale" (Czech, Slovak), "mojej" (Slovak), "to" (English), "dane" (Danish).
_POLISH_ONLY_WORDS = frozenset(
    """się jest że oraz przez dla czy lub także również będzie proszę dzień dziękuję pozdrawiam
    moich danych osobowych który która które których którego jestem są był była było może można
    przy jego mnie zgodnie już bardzo tylko jeśli więc państwa państwo piszę chcę mój moją mojego
    wszystkich wszystko szanowni witam tego poważaniem cześć życzę żądam nigdy jeszcze sobie
    dotyczy kiedy ponieważ gdyż żeby""".split()
)
_QUARTERS = 4
_MIN_POLISH_WORDS = 3
# The English fast path (`_unmistakably_english`). Words no other language of ALL_LANGUAGES
# writes: not "to" (Polish), "is"/"been"/"want"/"week" (Dutch), "for"/"and"/"have"/"her"/"sent"/
# "store"/"offer" (Danish, Norwegian), "my"/"we"/"most" (Polish), "was"/"will"/"also"/"kind"/"die"
# (German), "are" (Romanian), "me"/"or"/"message" (French, Spanish), "just" (Swedish), "need"/"must"
# (Estonian), "more" (Croatian, Italian), "data", "information", "personal" (everywhere).
_ENGLISH_ONLY_WORDS = frozenset(
    """the you your yours yourself with this that these those they them their theirs there what
    which who whom whose why how when where while would should could shall might if but his him she
    did does done doing get got getting only very such much some other every each into onto about
    after before because though through since until being having making know think thing something
    anything everything nothing without within whether please thank thanks regards hello dear
    sincerely kindly concern writing write confirm received receive receiving right rights customer
    address delete deleted account request requested copy from wishes good morning sending never
    asked including history saved loyalty withdraw processing unknown said arrange next identity
    verify relates recordings structured readable provide reachable publicly seems handled lodge
    complaint earlier expect reply another used promotional offers remove sorry delivered recipients
    returned undelivered wrong rectify birth already answer officer leak supplier happy delivery""".split()
)
# Common English words that other languages write too ("to", "is", "and", "data", ...): they do
# not prove English, but a quarter of the slice must be mostly made of them and the words above.
_ENGLISH_WORDS = _ENGLISH_ONLY_WORDS | frozenset(
    """a an i me my mine we us our ours it its is are was were be am been to of in on at by for and
    or not no yes as so do can will just also all any have has had here now then out up down off
    over under again once more most many few own same too than s t d m ll ve re don isn doesn didn
    won couldn wouldn shouldn aren wasn haven hasn hadn data personal information email emails mail
    message messages send sent name names day days week weeks month months year years time times one
    two three first last new old long little great small big high low open close closed full part
    per cent may must need needs want wanted like make made take taken give given go going come came
    see seen look find found use ask tell told say says call called keep left let put set try help
    work works show shown change changed stop start end still even back way well able ago away best
    better both contact contacts details detail list lists service services company companies
    website site app apps online store shop order orders number numbers phone mobile post card cards
    payment payments invoice invoices product products team staff customers client clients person
    people user users law legal article gdpr regulation note form file files record records report
    reports access erase erasure deletion removal objection object marketing newsletter consent
    process processed processes third party parties share shared sharing transfer protection privacy
    policy policies question questions issue issues problem problems response respond replies hours
    hour today tomorrow yesterday soon limit statutory mr mrs ms sir madam hi hey best kind yours
    faithfully truly cheers afternoon evening free sale offer subscription subscribed unsubscribe
    subscribe opt addresses home street city country
    hold requires matters legitimate particular interests interest based scoring calling agreed
    analytics tracked across purchases profiling registered training short love partnership kept
    emailing ignored mailing communications incorrect correct profile supervisory authority
    unhappy subject removed systems processors purposes portability correction machine move
    provider stores obtained billing export storage else someone exercise following attached
    error failure sender permanent support below failed notification further status original
    include reason check inform assistance notice deliver reference automatically follows wrote
    using created errors complaining asking rejected requests calls restrict manager employee
    undeliverable different letter concerning complain application signed directly mailbox
    tracking returning unable moving recruitment interested opened documents understand anyone
    longer according direct shows fine restriction private business handling role review usage
    breach login instead purpose delivering notify rectification recording complete follow treat
    former noticed actually annual passed risk permanently occurred dispute working addressed
    disputed behalf previous retention confirmation sign wish uploaded register return reporting
    accordance inaccurate handle reminder cannot tried nobody refused logged surname things
    contains explanation included colleague period database saying receipt agree sure provided
    trying delay uses recorded mistake took verification requesting needed advertising
    forwarding answers clearly mentioned whole applied title debt telephone pursuant enough
    printed insurance asks saw survey claim resolved really due accept formally interview
    everyone twice against pending leaving dates basis connection minutes afraid
    sales bucket formal date contract format dont update page photo link second public gave
    download read button settings decide notes internal photos office sell analysis newsletters
    cookie reviews stuff added keeps switch software entered push outdated spreadsheet clear
    safe click birthday visit password chat posts letters moved comments elsewhere properly
    employer monitoring turn reminders later anyway linked notifications owner leave ticket
    refund current statement device updated accounts contacted username anymore picture mind
    wait completed security prices shopping accepted bought cancelled either discount
    registration myself missing during rather completely
    crm dsar json csv pdf sms iphone
    walker liam sophie taylor davies smith george jones amelia green noah harry jack emma lucas isla
    evans wilson oliver roberts johnson brown ethan james thompson wright williams grace white mason""".split()
)
# Function words (written without diacritics) of the other languages that can be typed in ASCII
# letters alone: Polish typed on a phone, Czech, Slovak, Croatian, Slovene, Romanian, Dutch,
# German, Italian, Spanish, Portuguese, French, the Nordic languages, Finnish, Estonian, Latvian,
# Lithuanian, Hungarian, and the "sent from my phone" lines. One of them anywhere in the slice
# sends it to the detector: a foreign sentence of a few words nearly always carries one.
_FOREIGN_WORDS = frozenset(
    """w z v y nie na ze sie jest czy jak od po za dane danych moje moich mnie oraz zgody usunac
    usuniecie pozdrawiam dziekuje witam tylko chce konto jestem mam ktore bardzo tak prosze dzien
    dobry je se jsem som prosim udaje osobni osobne da podatke podataka moji sam si sa cu pe nu va
    este datele mele personale ja ei olen minun tiedot ning minu andmed un ir ka es mani manus dati
    datus kad mano duomenis prasau az hogy nem egy kerem adataim il di che la sono mi miei ti ho del
    della gli questo el de que los las por para con mis datos solicito usted vous le les des et pour
    mes donnees est pas une du au os meus dados nao em uma het een van en ik niet met op voor dat
    zijn uw mijn gegevens te ook wil der das und ich nicht mit sie ist zu von bitte meine ein eine
    auf dem den sehr geehrte daten ihre wir och jag att det mina uppgifter inte av till har og jeg
    er af ikke mig oplysninger jer pa fra min fran meinem gesendet inviato enviado desde vanaf
    verstuurd skickat odeslano wyslane mojego serdecznie zur bei fur aus bez
    med venlig hilsen hilsner vriendelijke groet groeten freundlichen gruessen grussen gruss cordiali
    saluti distinti atentamente saludos cordialement salutations distinguees pozdrav pozdravem
    pozdravy srdecne hvala terveisin tisztelettel pagarbiai cienu lugupidamisega stima obrigado
    halsningar vanliga vanlig mvh""".split()
)
# Letter pairs of Polish (and Hungarian) spelling English does not write: a Polish signature
# ("Grzegorz Brzeczyszczykiewicz") under a short English letter made the detector say "pl".
_FOREIGN_SPELLING = re.compile(r"cz|sz|rz|dz|zs|wicz\b|[cs]ki\b")  # searched in lower-cased text
_NON_ASCII_LETTER = re.compile(r"(?![a-zA-Z])[^\W\d_]")
_ASCII_WORD = re.compile(r"[A-Za-z]+")
# Every text the long detector sees (SHORT_TEXT and up). Below _SHORT_ENGLISH_SLICE one foreign
# word weighs enough to turn the detector ("I'm sorry to have to korekte inform you", 134
# characters, came out Danish), so there every lowercase word of _MAX_UNKNOWN_LETTERS letters or
# more must be a known English word (capitalised ones are names and stay allowed).
_MIN_ENGLISH_SLICE = SHORT_TEXT
_SHORT_ENGLISH_SLICE = 200
_MAX_UNKNOWN_LETTERS = 5
_MIN_ENGLISH_WORDS = 4
# Of each quarter's letters, in words of _ENGLISH_WORDS. At 0.4 a Polish subject line on a
# 206-character English letter ("bledny powod rozwiazania umowy Delivery report Hello, ...") and
# three foreign words in a 213-character one came out Polish and Norwegian.
_MIN_ENGLISH_SHARE = 0.55
# Function words that Polish does not write (typed in ASCII letters, which Polish shares): of
# English (with _ENGLISH_ONLY_WORDS), German, Dutch, the Nordic languages, the Romance languages,
# Czech and Slovak typed without diacritics, Croatian, Slovene, Sorbian, the Baltic and Finnic
# languages, Hungarian, and "sent from" lines. One of them anywhere sends the slice to the
# detector. Not the ones Polish writes too: "na", "do", "to", "je", "mi", "ich" (German), "ja",
# "te", "by", "my", "we", "on", "was" ("od Was"), "data", "dane", "sam", "da", "jak", "tak", "u".
_NOT_POLISH_WORDS = _ENGLISH_ONLY_WORDS | frozenset(
    """all am an and are as at be been can for had has have in is it its me not of or our so up us
    will yes
    der die das und nicht mit sie ist zu von bitte meine meinem ein eine auf aus bei dem den sehr
    geehrte daten ihre wir fur zur gesendet een het van ik niet met op voor dat zijn ook wil mijn
    gegevens vanaf verstuurd och jag att det mina uppgifter inte av till har skickat og jeg er af
    ikke mig oplysninger jer pa fra fran
    il di che la sono miei ti ho del della gli questo per non inviato el de que los las por para
    con mis datos solicito usted desde enviado vous le les des et pour mes donnees est pas une du
    au qui sur dans os meus dados nao em uma cu pe nu va este datele mele personale dati un
    se jsem jsme jste jsou som sme ste su prosim udaje udajov osobni osobne v s mych vsech vsetkych
    jejich jeho jich byl bude nebo podle uz mne muj ktery ktera ktere dekuji dekujeme pozdravem
    mojich alebo ako pre dakujem pozdravom odeslano
    sem si sa ki ali lahko bi moj moji mojeg mojih mog osebne podatke podatkov podataka lep pozdrav
    li ili koji koje ako kako hvala molim imam imate ovo ovu ova prema dobar dan vas vam vasem
    vasim iz jer
    wo jeli haj abo mje sym prosu tez dzakuju
    ir kad ka ar mano jus yra duomenis prasau mani manus datus ei olen minun tiedot ning minu
    andmed az hogy nem egy kerem adataim""".split()
)
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
    """True when `head` is written in Polish letters only, free of foreign function words, with
    Polish in every quarter and three distinct Polish-only words.

    Polish in a quarter is a Polish letter (ą ć ę ł ń ó ś ź ż) or a Polish-only word ("jest",
    "oraz", ...): a quarter made of a number, a phone or a name has no letter but still one of
    those words. Each condition closed a case where a looser rule said "pl" and the detector did
    not: a letter of Czech, Slovak or Croatian with a Polish paragraph (a foreign letter), a
    foreign letter given a Polish greeting, subject and signature (a quarter without Polish, or
    a foreign function word), Croatian typed without diacritics around Polish names (fewer than
    three Polish-only words). Anything less certain goes to the detector.
    """
    if _NOT_POLISH_LETTER.search(head):
        return False
    # The word tests first, on the whole word list at once (set operations in C rather than a
    # Python loop over ~60 words); positions are looked at only when the letters alone leave a
    # quarter without Polish. tests/test_language_polish_fast_path.py checks this against the
    # word-by-word form it replaced.
    # Every letter is now an ASCII or a Polish one (the test above): _WORD's words are the runs of
    # them, and lower-casing them maps each letter to one of them, so the words of the
    # lower-cased slice are the lower-cased words (an explicit class scans twice as fast).
    words = _POLISH_LETTERS_RUN.findall(head.lower())
    if not _NOT_POLISH_WORDS.isdisjoint(words):
        return False
    if len(_POLISH_ONLY_WORDS.intersection(words)) < _MIN_POLISH_WORDS:
        return False
    size = -(-len(head) // _QUARTERS)
    # A quarter has a Polish letter when the one-letter pattern matches inside it.
    polish = [_POLISH_DIACRITIC.search(head, q * size, (q + 1) * size) is not None for q in range(_QUARTERS)]
    if all(polish):
        return True
    for match in _WORD.finditer(head):
        if match.group().lower() in _POLISH_ONLY_WORDS:
            polish[match.start() // size] = polish[(match.end() - 1) // size] = True
    return all(polish)


def _unmistakably_english(head: str) -> bool:
    """True when `head` is long, all ASCII letters, free of foreign words, and English throughout.

    Every quarter must carry an English-only word and have at least 40 % of its letters in common
    English words, the slice at least four distinct English-only words, and nowhere a non-ASCII
    letter, a foreign function word, a Polish letter pair (cz, sz, rz, ...) or a lowercase "i"
    (Polish and Croatian "and"; English writes "I"). Each condition closed a case where the
    detector said something else: a bilingual letter, Polish typed without diacritics, a Polish
    subject or signature on a short English letter. Anything less certain goes to the detector.
    """
    if len(head) < _MIN_ENGLISH_SLICE:
        return False
    if not head.isascii() and _NON_ASCII_LETTER.search(head):
        return False
    # Every letter is an ASCII one now (the test above), so case folding has nothing to do but
    # map A-Z to a-z: the pattern is searched case-sensitively in the lower-cased slice, which
    # costs a third of an IGNORECASE search (that one also tries "ſ" for s and the Kelvin sign
    # for k at every position, letters the test above has already refused).
    if _FOREIGN_SPELLING.search(head.lower()):
        return False
    short = len(head) < _SHORT_ENGLISH_SLICE
    size = -(-len(head) // _QUARTERS)
    english_only = [0] * _QUARTERS
    known = [0] * _QUARTERS
    letters = [0] * _QUARTERS
    seen: set[str] = set()
    for match in _ASCII_WORD.finditer(head):
        word = match.group()
        if word == "i":
            return False
        word = word.lower()
        if word in _FOREIGN_WORDS:
            return False
        quarter = match.start() // size
        letters[quarter] += len(word)
        if word in _ENGLISH_WORDS:
            known[quarter] += len(word)
            if word in _ENGLISH_ONLY_WORDS:
                english_only[quarter] += 1
                seen.add(word)
        elif short and len(word) >= _MAX_UNKNOWN_LETTERS and match.group().islower():
            return False
    if len(seen) < _MIN_ENGLISH_WORDS or not all(english_only):
        return False
    return all(k >= _MIN_ENGLISH_SHARE * n for k, n in zip(known, letters))


def _code(language: Language | None) -> str:
    if language is None:
        return UNDETERMINED
    return language.iso_code_639_1.name.lower()


# One text per script the detectors know, long and short: lingua loads a language's models at
# the first text that could be in it, and a Cyrillic or Greek letter arriving first after a
# start-up would otherwise pay that load on its own clock.
_WARM_UP_LONG = (
    "Sehr geehrte Damen und Herren, bitte teilen Sie mir mit, welche Daten Sie über mich speichern. " * 3,
    "Добрый день, прошу сообщить, какие мои персональные данные вы обрабатываете и зачем. " * 3,
    "Καλημέρα σας, παρακαλώ ενημερώστε με ποια προσωπικά δεδομένα μου επεξεργάζεστε και γιατί. " * 3,
)
_WARM_UP_SHORT = ("Please tell me what data you hold.", "Прошу удалить мои данные.")


def warm_up() -> None:
    """Build both detectors and load their models now, not at the first message that needs them.

    Calling `detect_language` for this is not enough: a text the Polish or English fast path
    takes never reaches the detector (a worker warmed up on an English letter built nothing,
    and its first foreign letter waited 0.3 s for the models).
    """
    long_detector = _long_detector()
    for text in _WARM_UP_LONG:
        long_detector.detect_language_of(text[:LONG_SLICE])
    short_detector = _short_detector()
    for text in _WARM_UP_SHORT:
        short_detector.compute_language_confidence_values(text)


def detect_language(text: str) -> str:
    """The ISO 639-1 code of the language `text` is written in, or "und" when it cannot tell."""
    compact = " ".join(text.split())
    if not _WORD.search(compact):
        return UNDETERMINED
    if len(compact) >= SHORT_TEXT:
        head = compact[:LONG_SLICE]
        if _unmistakably_polish(head):
            return "pl"
        if _unmistakably_english(head):
            return "en"
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
