"""sender_text: the sender's own words, without quoted history, signature or disclaimer."""

from classifiers.language import detect_language
from classifiers.textprep import sender_text


def test_polish_w_dniu_pisze_history_and_signature_removed():
    # Guards against classifying our own quoted acknowledgement instead of the reply.
    text = (
        "Dzień dobry,\nproszę o usunięcie moich danych.\n\nPozdrawiam\nJan Kowalski\n\n"
        "W dniu 12.03.2026 o 10:00, IODO <iodo@optingo.eu> pisze:\n> Potwierdzamy otrzymanie wniosku o dostęp\n"
    )
    assert sender_text(text) == "Dzień dobry,\nproszę o usunięcie moich danych."


def test_dnia_napisal_and_outlook_polish_separator():
    assert sender_text("Proszę o wypisanie.\n\nDnia 2 marca 2026 Newsletter napisał(a):\n> Promocja!") == "Proszę o wypisanie."
    text = "Proszę o wypisanie.\n\n-----Wiadomość oryginalna-----\nOd: Optingo\nWysłano: poniedziałek\nTemat: oferta\n\nPromocja"
    assert sender_text(text) == "Proszę o wypisanie."


def test_wrapped_english_attribution():
    text = "Please unsubscribe me.\n\nOn Mon, Mar 2, 2026 at 10:00 AM Optingo News <news@optingo.eu>\nwrote:\n> Big sale!"
    assert sender_text(text) == "Please unsubscribe me."


def test_german_french_attributions():
    assert sender_text("Bitte löschen.\n\nAm 02.03.2026 um 10:00 schrieb Optingo <a@b.de>:\n> Angebot") == "Bitte löschen."
    assert sender_text("Supprimez.\n\nLe lun. 2 mars 2026, Optingo <a@b.fr> a écrit :\n> Offre") == "Supprimez."


def test_outlook_from_sent_block():
    text = "Please delete my data.\n\nFrom: Optingo <news@optingo.eu>\nSent: Monday, March 2, 2026\nTo: John\nSubject: Offer\n\nBig offer"
    assert sender_text(text) == "Please delete my data."


def test_request_after_closing_is_kept():
    # A PS after "Best regards" is part of the request, not a signature.
    text = "Hi,\nplease delete my account.\n\nBest regards,\nJohn\n\nPS. Also stop sending me the newsletter, I never signed up for it."
    assert "stop sending me the newsletter" in sender_text(text)


def test_closing_with_name_block_removed():
    text = "Proszę o dostęp do danych.\nZ poważaniem\nAnna Nowak\nul. Długa 5\n00-001 Warszawa\n"
    assert sender_text(text) == "Proszę o dostęp do danych."


def test_dash_signature_sent_from_and_disclaimer():
    assert sender_text("Delete my data.\n-- \nJohn Smith\nACME") == "Delete my data."
    assert sender_text("Usuńcie moje dane.\n\nWysłane z iPhone'a") == "Usuńcie moje dane."
    text = "Proszę o kopię danych.\n\nTa wiadomość jest poufna i przeznaczona wyłącznie dla adresata. Jeśli ..."
    assert sender_text(text) == "Proszę o kopię danych."
    text = "Send me my data.\n\nThis email and any attachments are confidential and intended solely for the addressee."
    assert sender_text(text) == "Send me my data."


def test_inline_reply_keeps_own_lines_between_quotes():
    text = "> Do you want to unsubscribe?\nYes, unsubscribe me.\n> Anything else?\nDelete my account too."
    assert sender_text(text) == "Yes, unsubscribe me.\nDelete my account too."


def test_bare_forward_returns_forwarded_content():
    # Never empty: a forward with no comment is classified on what was forwarded.
    text = (
        "---------- Forwarded message ---------\nFrom: Jan <jan@x.pl>\nDate: Mon, 2 Mar 2026\n"
        "Subject: dane\nTo: iodo@optingo.eu\n\nProszę o kopię moich danych.\n"
    )
    assert sender_text(text) == "Proszę o kopię moich danych."
    assert sender_text("> only quoted\n> lines") == "only quoted\nlines"


def test_empty_and_plain():
    assert sender_text("") == ""
    assert sender_text("  \n ") == ""
    assert sender_text("Just one line") == "Just one line"


def test_language_detection_short_polish_without_diacritics():
    # Polish typed on a phone without diacritics must not come out Czech or Croatian.
    assert detect_language("prosze usunac moje dane") == "pl"
    assert detect_language("please delete my data") == "en"
    assert detect_language("Bitte löschen Sie meine Daten") == "de"
    assert detect_language("12345 !!!") == "und"


def test_language_detection_long_text():
    text = "Sehr geehrte Damen und Herren, hiermit mache ich mein Recht auf Auskunft nach Art. 15 DSGVO geltend. " * 3
    assert detect_language(text) == "de"
    text = "Madame, Monsieur, je vous prie de bien vouloir supprimer toutes les données personnelles me concernant. " * 2
    assert detect_language(text) == "fr"


def test_a_short_request_after_a_closing_word_is_kept():
    # Guards against cutting a request as a signature: "Thanks" then a short sentence ending in
    # a full stop is the sender's text, not a name block.
    assert "delete my account" in sender_text("Hello,\nThanks\nPlease also delete my account.\nJan")


def test_a_formal_letter_after_a_cover_note_is_kept():
    # Guards against cutting a formal letter at the cover note's "Mit freundlichen Grüßen":
    # the request follows it, and numbered lists are the letter's own text, not quotes.
    body = (
        "Sehr geehrte Damen und Herren,\n\nanbei mein Antrag.\n\nMit freundlichen Grüßen\nMax Mustermann\n\n"
        "Antrag nach Art. 17 DSGVO\nHiermit verlange ich die Löschung meiner Daten:\n"
        "1. meines Kundenkontos;\n2. aller Bestelldaten.\n"
    )
    own = sender_text(body)
    assert "Art. 17 DSGVO" in own and "2. aller Bestelldaten." in own
