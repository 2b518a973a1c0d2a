"""Generate a varied, reproducible backlog of DPO-mailbox mail for the benchmark.

Nine in ten messages are requests a person wrote, in Polish or English, built from phrase
pools written for the benchmark (never taken from the shared corpora, which are for tests);
one in ten is a robot: an auto-reply, a bounce (DSN) or mailing-list mail. Sizes follow a
mailbox, not a unit test: most messages are 1-5 KB with Received headers, signatures and
quoted history; about a quarter carry an HTML alternative; a few carry a 100 KB - 1 MB
attachment. The same seed always gives the same bytes, so runs compare.
"""

from __future__ import annotations

import base64
import quopri
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Iterator

DPO_ADDRESS = "iodo@optingo.eu"
ROBOT_SHARE = 0.10
HTML_SHARE = 0.25
ATTACHMENT_SHARE = 0.005  # "a few": 50 in 10,000


@dataclass(frozen=True)
class Sample:
    """One generated message and what it is meant to be (for the report, never for the bot)."""

    index: int
    kind: str  # a request label (access, erasure, ...) or a robot kind (auto_reply, bounce, mailing_list)
    language: str  # pl | en
    raw: bytes

    @property
    def robot(self) -> bool:
        return self.kind in ROBOT_KINDS


ROBOT_KINDS = ("auto_reply", "bounce", "mailing_list")

# -- people ---------------------------------------------------------------------------------

PL_FIRST = ["Anna", "Małgorzata", "Katarzyna", "Agnieszka", "Zofia", "Joanna", "Łucja", "Ewa", "Jan",
            "Piotr", "Krzysztof", "Paweł", "Michał", "Tomasz", "Łukasz", "Grzegorz", "Jędrzej", "Wojciech"]
PL_LAST = ["Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski", "Zieliński",
           "Szymański", "Woźniak", "Dąbrowski", "Kozłowski", "Jankowski", "Mazur", "Krawczyk", "Żak", "Gołąb"]
EN_FIRST = ["Emma", "Olivia", "Grace", "Sophie", "Amelia", "Isla", "James", "Oliver", "Harry", "Jack",
            "George", "Noah", "Liam", "Ethan", "Mason", "Lucas"]
EN_LAST = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
           "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green"]
PL_DOMAINS = ["wp.pl", "onet.pl", "o2.pl", "interia.pl", "gmail.com", "poczta.fm", "op.pl", "firma-abc.pl"]
EN_DOMAINS = ["gmail.com", "outlook.com", "yahoo.co.uk", "hotmail.com", "proton.me", "btinternet.com", "icloud.com"]
_ASCII = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")

# -- request texts: per language, per label, several ways to ask ------------------------------

ASK = {
    "pl": {
        "access": [
            "na podstawie art. 15 RODO proszę o informację, jakie moje dane osobowe przetwarzacie i w jakim celu.",
            "proszę o przesłanie kopii wszystkich danych osobowych, które Państwa firma o mnie przechowuje.",
            "chciałabym wiedzieć, skąd macie mój adres i numer telefonu oraz komu je udostępniliście.",
            "zwracam się o dostęp do moich danych: jakie dane macie, od kiedy i jak długo zamierzacie je trzymać.",
        ],
        "erasure": [
            "proszę o usunięcie mojego konta oraz wszystkich moich danych osobowych z Państwa systemów.",
            "żądam usunięcia moich danych na podstawie art. 17 RODO, nie jestem już Państwa klientem.",
            "bardzo proszę o trwałe skasowanie moich danych, w tym historii zamówień i adresu dostawy.",
            "proszę zapomnieć o mnie: zamknijcie konto i usuńcie wszystko, co o mnie macie.",
        ],
        "marketing_optout": [
            "proszę o wypisanie mnie z newslettera i zaprzestanie wysyłania ofert handlowych.",
            "nie życzę sobie więcej telefonów z ofertami, proszę wykreślić mój numer z listy marketingowej.",
            "cofam zgodę na otrzymywanie informacji marketingowych drogą elektroniczną.",
            "od tygodni dostaję od Was reklamy, choć nigdy się na nie nie zgadzałem. Proszę to natychmiast zakończyć.",
        ],
        "rectification": [
            "w moim koncie jest błędny adres zamieszkania, proszę o jego sprostowanie na ul. Lipowa 12/4, Kraków.",
            "proszę o poprawienie mojego nazwiska, po ślubie nazywam się inaczej, a na fakturach widnieje stare.",
            "wasza baza ma nieaktualny numer telefonu, proszę go zaktualizować zgodnie z art. 16 RODO.",
        ],
        "objection": [
            "wnoszę sprzeciw wobec profilowania mnie na potrzeby analiz zachowań klientów.",
            "sprzeciwiam się przetwarzaniu moich danych w oparciu o prawnie uzasadniony interes, w szczególności śledzeniu w aplikacji.",
        ],
        "portability": [
            "proszę o przekazanie moich danych w formacie nadającym się do odczytu maszynowego, np. CSV lub JSON.",
            "chcę przenieść swoje dane do innego dostawcy, proszę o ich wydanie w ustrukturyzowanym formacie.",
        ],
        "restriction": [
            "kwestionuję prawidłowość moich danych i do czasu wyjaśnienia proszę o ograniczenie ich przetwarzania.",
            "proszę wstrzymać przetwarzanie moich danych, dopóki nie rozpatrzycie mojej reklamacji.",
        ],
        "complaint": [
            "jestem oburzony sposobem, w jaki potraktowaliście moje dane; jeżeli nie dostanę odpowiedzi, złożę skargę do Prezesa UODO.",
            "składam skargę: mój wniosek sprzed miesiąca pozostał bez odpowiedzi, a dane nadal są przetwarzane.",
        ],
        "breach_report": [
            "otrzymałem od Was e-mail z fakturą innej osoby, z jej adresem i numerem PESEL. To chyba wyciek danych.",
            "w internecie jest dostępny plik z danymi Waszych klientów, widziałem tam swoje nazwisko i telefon.",
        ],
        "other": [
            "czy mogę prosić o informację, kto jest Państwa inspektorem ochrony danych i jak się z nim skontaktować w sprawie umowy?",
            "piszę w sprawie współpracy: oferujemy audyty zgodności z RODO dla firm e-commerce.",
        ],
    },
    "en": {
        "access": [
            "under Article 15 GDPR I request a copy of all personal data you hold about me, and the purposes of processing.",
            "please tell me what personal information your company stores about me and where you obtained it.",
            "I am making a subject access request: please send me every record that relates to me, including call recordings.",
            "could you confirm whether you process my data, and if so, send me a copy of it within the statutory time limit?",
        ],
        "erasure": [
            "please erase all personal data you hold about me and close my account, as is my right under Article 17 GDPR.",
            "I want my account deleted and my details removed from all of your systems and those of your processors.",
            "kindly delete everything you have on me, including my order history and saved addresses.",
        ],
        "marketing_optout": [
            "please unsubscribe me from all marketing emails and stop sending me promotional offers.",
            "I withdraw my consent to marketing communications; please remove me from your mailing lists.",
            "stop calling me with sales offers. I never agreed to this and want my number off your list.",
        ],
        "rectification": [
            "my billing address in your records is wrong; please correct it to 14 Mill Lane, Leeds LS1 4AB.",
            "the date of birth on my profile is incorrect. Please rectify it under Article 16 GDPR.",
        ],
        "objection": [
            "I object to the profiling of my purchases for analytics and to being tracked across your apps.",
            "I object to processing based on your legitimate interests, in particular the CRM scoring of my account.",
        ],
        "portability": [
            "please provide my data in a structured, machine-readable format so that I can move to another provider.",
            "I would like to exercise my right to data portability and receive my data as CSV or JSON.",
        ],
        "restriction": [
            "I dispute the accuracy of the data you hold and ask you to restrict its processing until this is resolved.",
            "please pause any processing of my personal data while my complaint is being investigated.",
        ],
        "complaint": [
            "I am very unhappy with how my data was handled and will lodge a complaint with the supervisory authority.",
            "this is a formal complaint: my earlier request was ignored and you kept emailing me.",
        ],
        "breach_report": [
            "I received an email from you containing another customer's invoice, with their address and phone number.",
            "your customer export seems to be publicly reachable on an open storage bucket; I could see names and emails.",
        ],
        "other": [
            "could you tell me who your data protection officer is? I have a question about a supplier contract.",
            "we offer GDPR training for staff and would love to arrange a short call next week.",
        ],
    },
}
# How often each label appears among requests: opt-outs and access requests dominate in practice.
LABEL_WEIGHTS = {"access": 24, "erasure": 22, "marketing_optout": 22, "rectification": 6, "objection": 5,
                 "portability": 4, "restriction": 3, "complaint": 5, "breach_report": 3, "other": 6}

GREETING = {"pl": ["Dzień dobry,", "Szanowni Państwo,", "Witam,", "Dzień dobry Państwu,", "Cześć,"],
            "en": ["Hello,", "Dear Sir or Madam,", "Hi,", "Good morning,", "To whom it may concern,"]}
INTRO = {
    "pl": ["Jestem Państwa klientem od {year} roku, numer klienta {number}.",
           "Korzystam z Państwa sklepu internetowego od kilku lat.", "",
           "Piszę jako posiadacz karty lojalnościowej nr {number}.",
           "Mój adres e-mail to ten, z którego piszę, konto założyłem w {year} roku."],
    "en": ["I have been your customer since {year}, customer number {number}.",
           "I used to shop at your online store.", "",
           "I hold loyalty card number {number}.",
           "I registered with the address I am writing from, back in {year}."],
}
DETAIL = {
    "pl": ["Proszę o potwierdzenie otrzymania tej wiadomości.",
           "Oczekuję odpowiedzi w terminie przewidzianym w art. 12 RODO.",
           "W razie potrzeby mogę potwierdzić tożsamość, podając numer zamówienia {number}.",
           "Sprawa jest dla mnie pilna, bo dostaję coraz więcej niechcianych wiadomości.", ""],
    "en": ["Please confirm that you have received this email.",
           "I expect a reply within one month, as the GDPR requires.",
           "If you need to verify my identity, my last order number was {number}.",
           "This matters to me because I keep receiving messages I never asked for.", ""],
}
CLOSING = {"pl": ["Z poważaniem,", "Pozdrawiam,", "Z wyrazami szacunku,", "Dziękuję i pozdrawiam,"],
           "en": ["Kind regards,", "Best wishes,", "Regards,", "Thank you,", "Sincerely,"]}
SUBJECT = {
    "pl": {"access": ["Wniosek o dostęp do danych", "Kopia moich danych", "Art. 15 RODO"],
           "erasure": ["Usunięcie konta", "Żądanie usunięcia danych", "Proszę o usunięcie danych"],
           "marketing_optout": ["Rezygnacja z newslettera", "Nie chcę reklam", "Wypisanie z listy"],
           "rectification": ["Sprostowanie danych", "Błędny adres"], "objection": ["Sprzeciw"],
           "portability": ["Przeniesienie danych"], "restriction": ["Ograniczenie przetwarzania"],
           "complaint": ["Skarga", "Brak odpowiedzi na mój wniosek"], "breach_report": ["Wyciek danych?", "Cudze dane w mailu"],
           "other": ["Pytanie", "Współpraca"]},
    "en": {"access": ["Subject access request", "Copy of my data", "DSAR"],
           "erasure": ["Delete my data", "Account deletion request", "Right to erasure"],
           "marketing_optout": ["Unsubscribe", "Stop marketing emails", "Remove me from your list"],
           "rectification": ["Correction of my details", "Wrong address on file"], "objection": ["Objection to processing"],
           "portability": ["Data portability request"], "restriction": ["Restriction of processing"],
           "complaint": ["Complaint", "No reply to my request"], "breach_report": ["Possible data leak", "Someone else's data in your email"],
           "other": ["Question", "Partnership"]},
}
# Quoted history a person's client appends when they answer a newsletter or an earlier mail.
QUOTED = {
    "pl": ("W dniu {date} Optingo Digital <newsletter@optingo.eu> napisał(a):",
           ["Jesienna wyprzedaż: do -40% na wybrane produkty!", "Sprawdź nowości w naszym sklepie i odbierz kod rabatowy.",
            "Darmowa dostawa przy zamówieniach powyżej 199 zł.", "Otrzymujesz tę wiadomość, ponieważ zapisałeś się do newslettera.",
            "Regulamin promocji dostępny jest na stronie sklepu.", "Zespół Optingo życzy udanych zakupów!"]),
    "en": ("On {date}, Optingo Digital <newsletter@optingo.eu> wrote:",
           ["Autumn sale: up to 40% off selected items!", "Discover what's new in our store and claim your discount code.",
            "Free delivery on orders over 49 EUR.", "You receive this message because you subscribed to our newsletter.",
            "Terms of the promotion are available on our website.", "Happy shopping from the Optingo team!"]),
}
MAILERS = ["Mozilla Thunderbird 115.5.0", "Microsoft Outlook 16.0", "Apple Mail (2.3731)", "Roundcube Webmail/1.6.5",
           "Gmail", "K-9 Mail for Android"]


def _encode_word(text: str) -> str:
    """RFC 2047 for a header value that is not plain ASCII."""
    if text.isascii():
        return text
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def _qp(text: str) -> bytes:
    return quopri.encodestring(text.replace("\n", "\r\n").encode("utf-8"))


def _received(rng: random.Random, when: datetime, domain: str) -> list[str]:
    hops = []
    for hop in range(rng.randint(2, 4)):
        ip = f"{rng.randint(11, 220)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        hops.append(
            f"Received: from mx{hop}.{domain} (mx{hop}.{domain} [{ip}])\r\n\tby mail.optingo.eu (Postfix) with ESMTPS id "
            f"{rng.getrandbits(40):010X}\r\n\tfor <{DPO_ADDRESS}>; {format_datetime(when - timedelta(seconds=hop))}"
        )
    return hops


class Generator:
    """Builds message `i` of a backlog from `seed`; message i is the same whatever n is."""

    def __init__(self, seed: int = 7, start: datetime | None = None):
        self.seed = seed
        self.start = start or datetime(2025, 11, 3, 8, 0, tzinfo=timezone.utc)

    def sample(self, i: int) -> Sample:
        rng = random.Random(self.seed * 1_000_003 + i)
        when = self.start + timedelta(seconds=37 * i)
        language = "pl" if rng.random() < 0.6 else "en"
        if rng.random() < ROBOT_SHARE:
            kind = ROBOT_KINDS[rng.randrange(3)]
            raw = getattr(self, "_" + kind)(rng, i, language, when)
        else:
            kind = rng.choices(list(LABEL_WEIGHTS), weights=list(LABEL_WEIGHTS.values()))[0]
            raw = self._request(rng, i, language, kind, when)
        return Sample(i, kind, language, raw)

    # -- people's requests ---------------------------------------------------------------
    def _person(self, rng: random.Random, i: int, language: str) -> tuple[str, str]:
        first = rng.choice(PL_FIRST if language == "pl" else EN_FIRST)
        last = rng.choice(PL_LAST if language == "pl" else EN_LAST)
        domain = rng.choice(PL_DOMAINS if language == "pl" else EN_DOMAINS)
        # A distinct address per message: the reply cap per recipient must not hold back
        # acknowledgements, or (c) would measure fewer deliveries than (b) queued.
        address = f"{first}.{last}.{i}".translate(_ASCII).lower() + f"@{domain}"
        return f"{first} {last}", address

    def _request(self, rng: random.Random, i: int, language: str, kind: str, when: datetime) -> bytes:
        name, address = self._person(rng, i, language)
        number = f"{rng.randint(10000, 999999)}"
        year = str(rng.randint(2009, 2024))
        lines = [rng.choice(GREETING[language]), ""]
        intro = rng.choice(INTRO[language]).format(year=year, number=number)
        ask = rng.choice(ASK[language][kind])
        lines.append((intro + " " if intro else "") + ask[0].upper() + ask[1:])
        # A second request sentence from the same label, or a longer explanation, now and then.
        if rng.random() < 0.35:
            extra = rng.choice(ASK[language][kind])
            if extra != ask:
                lines += ["", extra[0].upper() + extra[1:]]
        detail = rng.choice(DETAIL[language]).format(number=number)
        if detail:
            lines += ["", detail]
        lines += ["", rng.choice(CLOSING[language]), name]
        if rng.random() < 0.5:
            lines.append(f"tel. +48 {rng.randint(500, 799)} {rng.randint(100, 999)} {rng.randint(100, 999)}"
                         if language == "pl" else f"Mobile: +44 7{rng.randint(100, 999)} {rng.randint(100000, 999999)}")
        body = "\n".join(lines)
        mailer = rng.choice(MAILERS)
        if mailer.startswith(("Mozilla", "Microsoft", "Apple")) or rng.random() < 0.3:
            body += "\n\n-- \n" + name + ("\nWysłano z mojego telefonu" if language == "pl" else "\nSent from my phone")
        if rng.random() < 0.45:
            header, pool = QUOTED[language]
            quoted = [header.format(date=format_datetime(when - timedelta(days=rng.randint(1, 30))))]
            for _ in range(rng.randint(6, 40)):
                quoted.append("> " + rng.choice(pool))
            body += "\n\n" + "\n".join(quoted)
        subject = rng.choice(SUBJECT[language][kind])
        if rng.random() < 0.15:
            subject = ("Odp: " if language == "pl" else "Re: ") + subject
        domain = address.rpartition("@")[2]
        headers = _received(rng, when, domain) + [
            f"Return-Path: <{address}>",
            f"From: {_encode_word(name)} <{address}>",
            f"To: {DPO_ADDRESS}",
            f"Subject: {_encode_word(subject)}",
            f"Date: {format_datetime(when)}",
            f"Message-ID: <{self.seed}.{i}.{rng.getrandbits(48):012x}@{domain}>",
            "MIME-Version: 1.0",
            f"User-Agent: {mailer}" if rng.random() < 0.5 else f"X-Mailer: {mailer}",
        ]
        if rng.random() < 0.3:
            headers.append(f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=s1;\r\n\th=from:to:subject:date:message-id; "
                           f"bh={base64.b64encode(rng.randbytes(32)).decode()};\r\n\tb={base64.b64encode(rng.randbytes(128)).decode()}")
        text_part = _text_part(body, rng)
        parts = [text_part]
        if rng.random() < HTML_SHARE:
            parts = [_alternative(text_part, _html_part(body, rng), rng)]
        if rng.random() < ATTACHMENT_SHARE:
            parts.append(_attachment(rng, language))
        return _assemble(headers, parts, rng)

    # -- robots ---------------------------------------------------------------------------
    def _auto_reply(self, rng: random.Random, i: int, language: str, when: datetime) -> bytes:
        name, address = self._person(rng, i, language)
        if language == "pl":
            subject, body = "Odpowiedź automatyczna: Informacja o przetwarzaniu danych", (
                "Dziękuję za wiadomość. Jestem na urlopie do 30 listopada i nie mam dostępu do poczty.\n"
                "W pilnych sprawach proszę o kontakt z biurem: biuro@" + address.rpartition("@")[2])
        else:
            subject, body = "Automatic reply: Information about your data", (
                "Thank you for your email. I am out of the office until Monday with limited access to email.\n"
                "For urgent matters please contact the front desk.")
        headers = _received(rng, when, address.rpartition("@")[2]) + [
            f"From: {_encode_word(name)} <{address}>", f"To: {DPO_ADDRESS}", f"Subject: {_encode_word(subject)}",
            f"Date: {format_datetime(when)}", f"Message-ID: <{self.seed}.{i}.auto@{address.rpartition('@')[2]}>",
            "MIME-Version: 1.0", "Auto-Submitted: auto-replied", "X-Autoreply: yes",
        ]
        return _assemble(headers, [_text_part(body, rng)], rng)

    def _bounce(self, rng: random.Random, i: int, language: str, when: datetime) -> bytes:
        host = f"mx{rng.randint(1, 9)}.{rng.choice(PL_DOMAINS + EN_DOMAINS)}"
        failed = f"user{i}@{host.split('.', 1)[1]}"
        boundary = f"bounce-{rng.getrandbits(64):016x}"
        original = (f"From: Optingo Digital <{DPO_ADDRESS}>\r\nTo: {failed}\r\nSubject: Potwierdzenie otrzymania wniosku\r\n"
                    f"Message-ID: <ack.{i}@optingo.eu>\r\nDate: {format_datetime(when - timedelta(minutes=5))}\r\n")
        body = (
            f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            f"This is the mail system at host {host}.\r\n\r\nI'm sorry to have to inform you that your message could not\r\n"
            f"be delivered to one or more recipients.\r\n\r\n<{failed}>: host {host} said: 550 5.1.1 User unknown\r\n\r\n"
            f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; {host}\r\n"
            f"Arrival-Date: {format_datetime(when)}\r\n\r\nFinal-Recipient: rfc822; {failed}\r\nAction: failed\r\n"
            f"Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <{failed}>: Recipient address rejected\r\n\r\n"
            f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{original}\r\n--{boundary}--\r\n"
        )
        headers = _received(rng, when, host) + [
            "Return-Path: <>", f"From: Mail Delivery System <MAILER-DAEMON@{host}>", f"To: {DPO_ADDRESS}",
            "Subject: Undelivered Mail Returned to Sender", f"Date: {format_datetime(when)}",
            f"Message-ID: <{self.seed}.{i}.bounce@{host}>", "Auto-Submitted: auto-replied", "MIME-Version: 1.0",
            f'Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="{boundary}"',
        ]
        return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("ascii")

    def _mailing_list(self, rng: random.Random, i: int, language: str, when: datetime) -> bytes:
        lst = rng.choice(["rodo-praktyka", "privacy-news", "iapp-digest", "ecommerce-pl"])
        lines = [f"{lst} digest, vol {rng.randint(1, 40)}, issue {rng.randint(1, 300)}", ""]
        for n in range(rng.randint(3, 12)):
            lines += [f"{n + 1}. " + rng.choice(ASK[language]["other"]), "   " + rng.choice(QUOTED[language][1]), ""]
        lines.append(f"To unsubscribe, visit https://lists.example.org/{lst}/unsubscribe")
        headers = _received(rng, when, "lists.example.org") + [
            f"From: {lst} <{lst}@lists.example.org>", f"To: {lst}@lists.example.org", f"Subject: [{lst}] Digest",
            f"Date: {format_datetime(when)}", f"Message-ID: <{self.seed}.{i}.list@lists.example.org>",
            f"List-Id: <{lst}.lists.example.org>", f"List-Unsubscribe: <mailto:{lst}-leave@lists.example.org>",
            "Precedence: list", "MIME-Version: 1.0",
        ]
        parts = [_text_part("\n".join(lines), rng)]
        if rng.random() < 0.5:
            parts = [_alternative(parts[0], _html_part("\n".join(lines), rng), rng)]
        return _assemble(headers, parts, rng)

    def __iter__(self) -> Iterator[Sample]:  # pragma: no cover - use backlog()
        raise TypeError("use backlog(n)")

    def backlog(self, n: int, offset: int = 0) -> Iterator[Sample]:
        for i in range(offset, offset + n):
            yield self.sample(i)


# -- MIME assembly ----------------------------------------------------------------------------

def _text_part(text: str, rng: random.Random) -> bytes:
    if text.isascii():
        return b"Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + text.replace("\n", "\r\n").encode()
    choice = rng.random()
    if choice < 0.5:
        return b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + _qp(text)
    if choice < 0.8:
        return b"Content-Type: text/plain; charset=utf-8; format=flowed\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text.replace("\n", "\r\n").encode("utf-8")
    encoded = base64.encodebytes(text.replace("\n", "\r\n").encode("utf-8")).replace(b"\n", b"\r\n")
    return b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + encoded


def _html_part(text: str, rng: random.Random) -> bytes:
    paragraphs = "".join(
        f'<p style="margin:0 0 12px 0;font-family:Calibri,Arial,sans-serif;font-size:11pt;color:#1f1f1f">'
        f"{p.replace('&', '&amp;').replace('<', '&lt;').replace(chr(10), '<br>')}</p>\r\n"
        for p in text.split("\n\n")
    )
    html = (
        '<!DOCTYPE html>\r\n<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        "<style>body{font-family:Calibri,Arial,sans-serif} .MsoNormal{margin:0} blockquote{border-left:2px solid #ccc;"
        "padding-left:8px;color:#555}</style></head>\r\n<body lang=\"pl\">\r\n" + paragraphs + "</body></html>\r\n"
    )
    return b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + _qp(html)


def _alternative(text_part: bytes, html_part: bytes, rng: random.Random) -> bytes:
    boundary = f"alt-{rng.getrandbits(64):016x}".encode()
    return (b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n\r\n'
            + b"--" + boundary + b"\r\n" + text_part + b"\r\n--" + boundary + b"\r\n" + html_part
            + b"\r\n--" + boundary + b"--\r\n")


def _attachment(rng: random.Random, language: str) -> bytes:
    # Base64 grows data by a third: 75-750 KB of content is a 100 KB - 1 MB part on the wire.
    size = rng.randint(75_000, 750_000)
    data = rng.randbytes(size)
    name, ctype = rng.choice([("skan_dowodu.pdf" if language == "pl" else "id_scan.pdf", "application/pdf"),
                              ("zrzut_ekranu.png" if language == "pl" else "screenshot.png", "image/png"),
                              ("faktura.jpg" if language == "pl" else "invoice.jpg", "image/jpeg")])
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return (f'Content-Type: {ctype}; name="{name}"\r\nContent-Disposition: attachment; filename="{name}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + encoded


def _assemble(headers: list[str], parts: list[bytes], rng: random.Random) -> bytes:
    head = "\r\n".join(headers).encode("utf-8")
    if len(parts) == 1:
        return head + b"\r\n" + parts[0]
    boundary = f"mixed-{rng.getrandbits(64):016x}".encode()
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts) + b"--" + boundary + b"--\r\n"
    return head + b'\r\nContent-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n' + body


def backlog(n: int, seed: int = 7, offset: int = 0) -> Iterator[Sample]:
    """Messages offset .. offset+n-1 of the backlog for `seed`."""
    return Generator(seed).backlog(n, offset)


if __name__ == "__main__":  # a quick look at the mix: python bench/generate.py 10000
    import sys
    from collections import Counter

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    kinds, sizes = Counter(), []
    for s in backlog(count):
        kinds[s.kind] += 1
        sizes.append(len(s.raw))
    sizes.sort()
    print(dict(kinds.most_common()))
    print(f"median {sizes[len(sizes) // 2]} B, p10 {sizes[len(sizes) // 10]} B, p90 {sizes[9 * len(sizes) // 10]} B, "
          f"max {sizes[-1]} B, >100 KB: {sum(1 for x in sizes if x > 100_000)}, total {sum(sizes) / 1e6:.1f} MB")
