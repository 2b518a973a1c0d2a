"""Find what the sender wrote in a mail body: quoted history, signature and legal disclaimer set aside.

The classifier must label what the sender asks for now, not what the quoted history of our own
acknowledgement or of a newsletter says (DESIGN.md, "Request types"). So the body is cut at the
first attribution line ("On ... wrote:", "W dniu ... pisze:", "Dnia ... napisał(a):", "Am ...
schrieb", "Le ... a écrit", Outlook's "-----Original Message-----" and "From:/Sent:" blocks,
forwarded-message separators); "> " lines are dropped wherever they stand (inline replies keep
the sender's own lines between quotes); a "-- " signature, a closing ("Pozdrawiam", "Best
regards", ...) followed by a short name block, "Sent from my iPhone" lines and a trailing
confidentiality disclaimer are set aside.

mail-parser-reply was tried first: it knows no Polish "W dniu ... pisze:" attribution and cuts
everything after a closing word, including a "PS. please also delete my account" that follows it,
so the rules here are our own, line based, and linear in the text's length.

Never empty when the input had text of its own: if everything was quoted (a bare forward), the
forwarded content is returned instead. Pure: no I/O.
"""

from __future__ import annotations

import re

_WS = r"[ \t\u00a0]"

# Attribution lines that introduce quoted history. Matched against one line, or two joined lines
# (mail clients wrap long "On <date>, <name> <address> wrote:" lines).
_ATTRIBUTION = re.compile(
    r"""^(?:>\s*)*(?:
        On\s.{1,300}?\swrote\s?:
      | W\sdniu\s.{1,300}?\s(?:pisze|napisał(?:\(a\)|a)?)\s?:
      | Dnia\s.{1,300}?\s(?:pisze|napisał(?:\(a\)|a)?|nadesłał)\s?:
      | .{1,300}?\snapisał(?:\(a\)|a)?\s?:
      | Am\s.{1,300}?\sschrieb.{0,200}?:
      | .{1,300}?\sschrieb\s?:
      | Le\s.{1,300}?\sa\sécrit\s?:
      | El\s.{1,300}?\sescribió\s?:
      | Il\s.{1,300}?\sha\sscritto\s?:
      | Op\s.{1,300}?\sschreef.{0,200}?:
      | (?:Den\s)?.{1,300}?\sskrev.{0,200}?:
      | .{1,300}?\snapsal(?:\(a\)|a)?\s?:
      | Em\s.{1,300}?\sescreveu\s?:
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)

_SEPARATOR = re.compile(
    r"""^(?:>\s*)*(?:
        -{2,}\s*(?:Original\sMessage|Wiadomość\soryginalna|Oryginalna\swiadomość|Ursprüngliche\sNachricht
               |Message\sd'origine|Mensaje\soriginal|Messaggio\soriginale|Oorspronkelijk\sbericht
               |Původní\szpráva|Forwarded\smessage|Wiadomość\sprzekazana\sdalej|Przekazana\swiadomość
               |Weitergeleitete\sNachricht|Message\stransféré|Mensaje\sreenviado|Messaggio\sinoltrato
               )\s*-{0,}
      | Begin\sforwarded\smessage\s?:
      | _{10,}
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_FORWARD_SEPARATOR = re.compile(
    r"forward|przekazan|weitergeleitet|transféré|reenviado|inoltrato", re.IGNORECASE
)

# Header lines of an Outlook-style quoted block: "From:" then, within a few lines, "Sent:" etc.
_HEADER_FROM = re.compile(r"^(?:>\s*)*\*?(?:From|Od|Von|De|Da|Van|Från|Fra)\*?\s?:\s*\S", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^(?:>\s*)*\*?(?:Sent|Date|To|Subject|Cc|Wysłano|Wysłane|Data|Do|Temat|DW|Gesendet|Datum|An|Betreff"
    r"|Envoyé|Date|À|Objet|Enviado|Fecha|Para|Asunto|Inviato|Oggetto|A|Verzonden|Aan|Onderwerp|Skickat|Till|Ämne)"
    r"\*?\s?:",
    re.IGNORECASE,
)

_QUOTE_LINE = re.compile(r"^\s*>")
_DASHDASH = re.compile(r"^--\s?$")
_SENT_FROM = re.compile(
    r"^(?:Sent\sfrom\smy\s|Sent\sfrom\s(?:Outlook|Mail|Yahoo)|Get\sOutlook\sfor|Wysłane\sz\s|Wysłano\sz\s"
    r"|Von\smeinem\s|Gesendet\svon\s|Envoyé\sde\smon\s|Enviado\sdesde\smi\s|Inviato\sda\s)",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"""^(?:
        (?:Z\s)?(?:serdecznymi\s|najlepszymi\s)?pozdrowieniami | (?:Serdecznie\s|Pozdrawiam\sserdecznie|Łączę\s)?pozdr(?:awiam|owienia|\.)
      | Z\s(?:wyrazami\s)?(?:poważaniem|powazaniem|szacunku?) | Dziękuję | Dziekuje | Pozdrawiam
      | (?:Best|Kind|Warm|Many)\s(?:regards|wishes|thanks) | Regards | Best | Thanks | Thank\syou | Cheers
      | Sincerely | Yours\s(?:sincerely|faithfully|truly) | Mit\sfreundlichen\sGrüßen | Viele\sGrüße
      | Freundliche\sGrüße | Beste\sGrüße | Cordialement | Bien\sà\svous | Salutations | Saludos(?:\scordiales)?
      | Atentamente | Cordiali\ssaluti | Distinti\ssaluti | Met\svriendelijke\sgroet(?:en)? | Groeten
      | Med\svänlig\shälsning | Mvh | S\spozdravem | Com\sos\smelhores\scumprimentos | Atenciosamente
    )[\s,.!]*$""",
    re.IGNORECASE | re.VERBOSE,
)
_DISCLAIMER = re.compile(
    r"""^\W{0,4}(?:
        This\s(?:e-?mail|message|communication)(?:\sand\s(?:any|its)\sattachments?)?\s(?:\(.{0,40}\)\s)?
            (?:is|are|may|contains?|and)\b.{0,80}?(?:confidential|privileged|intended)
      | (?:CONFIDENTIALITY|LEGAL|PRIVACY)\s(?:NOTICE|DISCLAIMER)
      | The\sinformation\s(?:contained\s)?in\sthis\s(?:e-?mail|message)
      | Disclaimer\s?:
      | (?:Ta|Niniejsza|Powyższa)\swiadomość\s(?:e-?mail\s)?(?:oraz\sjej\szałączniki\s|wraz\sz\szałącznikami\s)?
            (?:jest|może|zawiera|i|stanowi|przeznaczona|ma)
      | Treść\s(?:tej|niniejszej)\swiadomości
      | Informacje\szawarte\sw\s(?:tej|niniejszej)\swiadomości
      | Klauzula\s(?:poufności|informacyjna)
      | Diese\s(?:E-?Mail|Nachricht)\s(?:enthält|ist|kann)\b.{0,80}?vertraulich
      | Ce\s(?:message|courriel|e-?mail)\s(?:et\s.{0,40})?(?:est|peut|contient)\b.{0,80}?confidenti
      | Este\s(?:mensaje|correo)\s.{0,80}?confidencial
    )""",
    re.IGNORECASE | re.VERBOSE,
)

MAX_NAME_BLOCK_LINES = 6  # a closing followed by more than this is a closing mid-letter, not a signature
MAX_NAME_BLOCK_WORDS = 7  # a line with this many words is a sentence, not part of a name block


def _is_attribution(lines: list[str], i: int) -> int:
    """How many lines the attribution starting at line i spans (0: none)."""
    line = lines[i].strip()
    if not line:
        return 0
    # Every form of _ATTRIBUTION ends in a ":": a text without one cannot match, and the lazy
    # ".{1,300}?" forms cost a scan per form on each of the many lines of prose without one.
    if len(line) < 400 and ":" in line and _ATTRIBUTION.match(line):
        return 1
    if i + 1 < len(lines):
        joined = f"{line} {lines[i + 1].strip()}"
        if len(joined) < 400 and ":" in joined and _ATTRIBUTION.match(joined) and not line.endswith((".", "?", "!")):
            # Only a wrapped attribution: the first half must not itself end a sentence.
            return 2
    return 0


def _is_header_block(lines: list[str], i: int) -> bool:
    if not _HEADER_FROM.match(lines[i]):
        return False
    following = [ln for ln in lines[i + 1 : i + 6] if ln.strip()]
    return sum(1 for ln in following if _HEADER_NEXT.match(ln)) >= 2


def _split_history(lines: list[str]) -> tuple[list[str], list[str], bool]:
    """(own lines, quoted history, whether the history is a forward) at the first history marker."""
    for i in range(len(lines)):
        line = lines[i]
        # Cheap tests first, each a literal every match must hold: a _SEPARATOR has "--", ":" or
        # ten "_", a _HEADER_FROM line has ":" (none of them a letter, so IGNORECASE adds no
        # other spelling).
        if ("--" in line or ":" in line or "__________" in line) and _SEPARATOR.match(line):
            return lines[:i], lines[i + 1 :], bool(_FORWARD_SEPARATOR.search(line))
        span = _is_attribution(lines, i)
        if span:
            return lines[:i], lines[i + span :], False
        if ":" in line and _is_header_block(lines, i):
            return lines[:i], lines[i:], False
    return lines, [], False


def _is_sentence(line: str) -> bool:
    # A name block's lines (name, title, phone, address) do not end in a full stop; "Please also
    # delete my account." after a "Thanks" line does, and was cut away with the signature.
    stripped = line.strip()
    words = len(stripped.split())
    return words >= MAX_NAME_BLOCK_WORDS or stripped.endswith("?") or (words >= 3 and stripped.endswith((".", "!")))


def _cut_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if _DASHDASH.match(line):
            return lines[:i]
    for i, line in enumerate(lines):
        if _SENT_FROM.match(line.strip()) and len(line.split()) <= 8:
            rest = [ln for ln in lines[i + 1 :] if ln.strip()]
            if not any(_is_sentence(ln) for ln in rest):
                return lines[:i]
    for i, line in enumerate(lines):
        if i and _CLOSING.match(line.strip()):
            rest = [ln for ln in lines[i + 1 :] if ln.strip()]
            # A closing ends the letter only when what follows is a short name/address block;
            # "Pozdrawiam\nPS. Proszę też usunąć konto" keeps its PS.
            if len(rest) <= MAX_NAME_BLOCK_LINES and not any(_is_sentence(ln) for ln in rest):
                return lines[:i]
    return lines


def _cut_disclaimer(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if i and _DISCLAIMER.match(line.strip()):
            before = [ln for ln in lines[:i] if ln.strip()]
            if before:
                return lines[:i]
    return lines


def _tidy(lines: list[str]) -> str:
    text = "\n".join(ln.rstrip() for ln in lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _unquote(lines: list[str]) -> list[str]:
    return [re.sub(r"^\s*(?:>\s?)+", "", ln) for ln in lines]


def _forwarded_body(history: list[str]) -> list[str]:
    """The content of a forward, its header block (From:, Date:, Subject:, To:) left out."""
    lines = _unquote(history)
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i < len(lines) and (_HEADER_FROM.match(lines[i]) or _HEADER_NEXT.match(lines[i])):
        while i < len(lines) and lines[i].strip() and (
            _HEADER_FROM.match(lines[i]) or _HEADER_NEXT.match(lines[i]) or lines[i][:1] in " \t"
        ):
            i += 1
    return lines[i:]


def _own_text(text: str, depth: int) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    own, history, _forward = _split_history(lines)
    own = [ln for ln in own if not _QUOTE_LINE.match(ln)]
    if any(ln.strip() for ln in own):
        cleaned = _tidy(_cut_signature(_cut_disclaimer(own)))
        if cleaned:
            return cleaned
        return _tidy(own)
    # Nothing of the sender's own: a bare forward, or a message that is all quotes.
    body = _forwarded_body(history) if history else _unquote(lines)
    if depth < 3 and any(ln.strip() for ln in body):
        inner = _own_text("\n".join(body), depth + 1)
        if inner:
            return inner
    return _tidy(body)


def sender_text(text: str) -> str:
    """What the sender wrote: quoted history, signature and disclaimer set aside.

    Returns "" only when `text` has no visible characters. When everything is quoted (a bare
    forward), the forwarded content is returned rather than nothing.
    """
    if not text or not text.strip():
        return ""
    result = _own_text(text, 0)
    return result or text.strip()
