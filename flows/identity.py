"""Who a row is about: the one identity rule, and the pseudonymous keys computed from it.

A person is their normalised e-mail (case, accents and spaces do not matter; the address is read out of
« Nom <adresse> », « mailto:adresse » and trailing punctuation such as « adresse; », as pasted from a mail
client); when the e-mail is blank (or is not an address), their name and structure. Keys are a keyed HMAC
of that identity, computed when rows are landed, so no name or e-mail ever needs to leave the private raw
history. The same rule finds a person for an erasure or an access request.

A roster row also gets the key of its full name alone, its words in any order (cle_nom): with it dbt
(int_promeneurs_validated) tells apart two people sharing a mailbox (one address, two full names: two people,
each keeping the address's key, told apart by their name's key in that sync only, so no stored key depends on
other rows and keys stay the same from one sync to the next), and flags the possible duplicates it cannot
decide: the same full name and structure under two addresses, or with first and last name swapped and no
address. It is never used to erase or find someone: a full name alone may be two people.

A person named in free text (an activity's comment, someone else's remark) is their full name, first name
and name in either order, their name after a civility (« Mme Quintard », « M. Quintard »), their address, as
consecutive words whatever their case and accents, or one of their phone numbers whatever its separators
(+33 and 0033 read as 0). Those mentions are keyed too: an erasure keeps only their fingerprints, with which
landing still recognises them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from flows.sources.contract import normalise_label

_SPACES = re.compile(r"\s+")
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+$")
# How an address arrives pasted from a mail client: « Nom <adresse> », « mailto:adresse », « adresse; ».
_BRACKETED = re.compile(r"<([^<>]*@[^<>]*)>")
_MAILTO = "mailto:"
_EDGE_PUNCTUATION = ";,.:!?'\"()[]<>«»"
# Words of free text: letters and digits with the marks addresses and compound names contain, trimmed at the
# edges. An apostrophe separates words (« l'animatrice », « N'Diaye »), in a name as in the text around it.
_WORD = re.compile(r"[\w@.+-]+")
_WORD_EDGES = ".+-"
MAX_NAME_WORDS = 4  # a full name longer than this is not looked for in free text
REDACTED = "[effacé]"  # what replaces a mention of an erased person
# How French text puts a civility before a surname (« M. », « Mme », « Monsieur »…), normalised words. The
# person's gender is not known: every civility is looked for with every surname.
CIVILITIES = ("m", "mr", "mme", "mlle", "monsieur", "madame", "mademoiselle")
# A French phone number as people type it: 0X or +33 X or 0033 X, then four pairs of digits, with or without
# spaces, dots or hyphens; (0) after the country code is tolerated. Not inside a longer run of digits.
_ADDRESS_IN_TEXT = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\d+])(?:(?:\+|00)33[\s.-]?(?:\(0\)[\s.-]?)?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\d)")


def normalised_email(value: object) -> str | None:
    """An e-mail as an identity: lower case, no accents, no spaces; None when blank or not an address."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    decomposed = unicodedata.normalize("NFKD", str(value))
    text = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    bracketed = _BRACKETED.search(text)
    text = _SPACES.sub("", bracketed[1] if bracketed else text).strip(_EDGE_PUNCTUATION)
    text = text.removeprefix(_MAILTO).strip(_EDGE_PUNCTUATION)
    return text if _ADDRESS.match(text) else None


def name_identity(nom: object, prenom: object, structure: object) -> str | None:
    """Name and structure as an identity (for rows without an e-mail); None when the name is blank."""
    name = normalise_label(f"{nom or ''} {prenom or ''}")
    if not name:
        return None
    return f"nom:{name}|{normalise_label(str(structure or ''))}"


def full_name_tokens(text: object) -> tuple[str, ...]:
    """A full name as a search by name compares it: its normalised words, in any order (« Prénom Nom » or
    « NOM Prénom »)."""
    return tuple(sorted(normalise_label(str(text or "")).split()))


def full_name_identity(nom: object, prenom: object) -> str | None:
    """A full name alone as an identity, its words in any order; None when blank."""
    tokens = full_name_tokens(f"{nom or ''} {prenom or ''}")
    return "nomcomplet:" + " ".join(tokens) if tokens else None


def person_identity(email: object, nom: object = None, prenom: object = None, structure: object = None) -> str | None:
    """The identity rule: the normalised e-mail, else name + structure."""
    address = normalised_email(email)
    return f"email:{address}" if address else name_identity(nom, prenom, structure)


def pseudonymise(values: pd.Series, key: bytes) -> pd.Series:
    """Keyed HMAC of each identity (once per distinct value), so keys cannot be recomputed from a name."""
    digests = {value: pseudonym(value, key) for value in values.dropna().unique()}
    return values.map(digests)


def pseudonym(identity: str, key: bytes) -> str:
    """The pseudonymous key of one identity."""
    return hmac.new(key, identity.encode("utf-8"), hashlib.sha256).hexdigest()[:20]


def roster_identities(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per roster row: the identity rule's result, the name + structure identity (for ambiguous duplicates) and
    the full name's (for shared mailboxes and possible duplicates)."""
    rows = frame[["email", "nom", "prenom", "structure"]].astype(object)
    rows = rows.where(rows.notna(), None)
    people = [person_identity(*row) for row in rows.itertuples(index=False)]
    names = [name_identity(nom, prenom, structure) for _, nom, prenom, structure in rows.itertuples(index=False)]
    full_names = [full_name_identity(nom, prenom) for _, nom, prenom, _ in rows.itertuples(index=False)]
    return tuple(pd.Series(values, index=frame.index, dtype=object) for values in (people, names, full_names))


def respondent_identities(frame: pd.DataFrame) -> pd.Series:
    """Per questionnaire answer: the respondent's normalised e-mail (answers have no name)."""
    people = [person_identity(email) for email in frame["email"].astype(object)]
    return pd.Series(people, index=frame.index, dtype=object)


def normalised_phone(text: object) -> str | None:
    """A French phone number as an identity: its ten digits, +33 / 0033 read as 0; None when not one."""
    raw = str(text or "").strip()
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+") or digits.startswith("0033"):
        digits = digits.removeprefix("00").removeprefix("33")
    digits = digits if digits.startswith("0") else "0" + digits
    return digits if re.fullmatch(r"0[1-9]\d{8}", digits) else None


def phones_in(text: object) -> set[str]:
    """Every phone number written in `text`, normalised."""
    found = (normalised_phone(match[0]) for match in _PHONE.finditer(str(text or "")))
    return {phone for phone in found if phone}


def contact_spans(text: str) -> list[tuple[int, int]]:
    """Where `text` writes an e-mail address or a phone number, whoever's it is."""
    return merged_spans([m.span() for pattern in (_ADDRESS_IN_TEXT, _PHONE) for m in pattern.finditer(text)])


def mention_identities(
    names: Iterable[tuple[str, str]], addresses: Iterable[str], phones: Iterable[str] = ()
) -> set[str]:
    """What a mention of a person is: « prénom nom », « nom prénom », a civility and their name (normalised),
    their address or one of their phone numbers."""
    found = {f"mention:{address}" for address in addresses} | {f"mention:tel:{phone}" for phone in phones}
    for first, last in names:
        surname = " ".join(word for _, _, word in _words(last))
        for words in (f"{first} {last}", f"{last} {first}"):
            found.add("mention:" + " ".join(word for _, _, word in _words(words)))
        found |= {f"mention:{civility} {surname}" for civility in CIVILITIES if surname}
    return {identity for identity in found if identity != "mention:"}


def _words(text: str) -> list[tuple[int, int, str]]:
    """(start, end, normalised word) of each word of `text`."""
    words = []
    for match in _WORD.finditer(text):
        start = match.start() + len(match[0]) - len(match[0].lstrip(_WORD_EDGES))
        word = match[0].strip(_WORD_EDGES)
        if word:
            words.append((start, start + len(word), normalise_label(word)))
    return words


def merged_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans in order, overlapping ones joined (a name run may straddle a phone number)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


@dataclass(frozen=True)
class MentionFinder:
    """Finds people in free text from the keyed fingerprints of their mentions (no name or address kept)."""

    fingerprints: frozenset[str]
    key: bytes
    # Runs of words already looked up: free text repeats itself down a column (memory only, never stored).
    _seen: dict[str, bool] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where `text` mentions one of the people: their phone numbers, then the longest run of words first."""
        spans = self._phone_spans(text)
        words = [w for w in _words(text) if not any(start <= w[0] < end for start, end in spans)]
        i = 0
        while i < len(words):
            for n in range(min(MAX_NAME_WORDS, len(words) - i), 0, -1):
                run = words[i : i + n]
                if n == 1 and "@" not in run[0][2]:  # one word is only ever an address
                    continue
                if self._known("mention:" + " ".join(w[2] for w in run)):
                    spans.append((run[0][0], run[-1][1]))
                    i += n
                    break
            else:
                i += 1
        return merged_spans(spans)

    def _phone_spans(self, text: str) -> list[tuple[int, int]]:
        """Where `text` writes one of the people's phone numbers, whatever its separators."""
        return [
            match.span() for match in _PHONE.finditer(text)
            if (phone := normalised_phone(match[0])) and self._known(f"mention:tel:{phone}")
        ]

    def _known(self, identity: str) -> bool:
        if identity not in self._seen:
            self._seen[identity] = pseudonym(identity, self.key) in self.fingerprints
        return self._seen[identity]

    def redact(self, value: object, replacement: str = REDACTED) -> object:
        """The value with each mention replaced by « [effacé] » (lists item by item; other values as they are)."""
        if isinstance(value, list):
            return [self.redact(item, replacement) for item in value]
        if not isinstance(value, str) or not self.fingerprints:
            return value
        return replace_spans(value, self.spans(value), replacement)


def replace_spans(text: str, spans: list[tuple[int, int]], replacement: str) -> str:
    """`text` with each of the (ordered, disjoint) spans replaced."""
    for start, end in reversed(spans):
        text = text[:start] + replacement + text[end:]
    return text
