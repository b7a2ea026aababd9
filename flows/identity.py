"""Who a row is about: the one identity rule, and the pseudonymous keys computed from it.

A person is their normalised e-mail (case, accents and spaces do not matter); when the e-mail is blank
(or is not an address), their name and structure. Keys are a keyed HMAC of that identity, computed when
rows are landed, so no name or e-mail ever needs to leave the private raw history. The same rule finds a
person for an erasure or an access request.

A person named in free text (an activity's comment, someone else's remark) is their full name, first name
and name in either order, or their address, as consecutive words whatever their case and accents. Those
mentions are keyed too: an erasure keeps only their fingerprints, with which landing still recognises them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from flows.sources.contract import normalise_label

_SPACES = re.compile(r"\s+")
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+$")
# Words of free text: letters and digits with the marks addresses and compound names contain, trimmed at the
# edges. An apostrophe separates words (« l'animatrice », « N'Diaye »), in a name as in the text around it.
_WORD = re.compile(r"[\w@.+-]+")
_WORD_EDGES = ".+-"
MAX_NAME_WORDS = 4  # a full name longer than this is not looked for in free text
REDACTED = "[effacé]"  # what replaces a mention of an erased person


def normalised_email(value: object) -> str | None:
    """An e-mail as an identity: lower case, no accents, no spaces; None when blank or not an address."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    decomposed = unicodedata.normalize("NFKD", str(value))
    text = _SPACES.sub("", "".join(ch for ch in decomposed if not unicodedata.combining(ch))).lower()
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


def roster_identities(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per roster row: the identity rule's result, and the name + structure identity (for ambiguous duplicates)."""
    rows = frame[["email", "nom", "prenom", "structure"]].astype(object)
    rows = rows.where(rows.notna(), None)
    people = [person_identity(*row) for row in rows.itertuples(index=False)]
    names = [name_identity(nom, prenom, structure) for _, nom, prenom, structure in rows.itertuples(index=False)]
    return pd.Series(people, index=frame.index, dtype=object), pd.Series(names, index=frame.index, dtype=object)


def respondent_identities(frame: pd.DataFrame) -> pd.Series:
    """Per questionnaire answer: the respondent's normalised e-mail (answers have no name)."""
    people = [person_identity(email) for email in frame["email"].astype(object)]
    return pd.Series(people, index=frame.index, dtype=object)


def mention_identities(names: Iterable[tuple[str, str]], addresses: Iterable[str]) -> set[str]:
    """What a mention of a person is: « prénom nom », « nom prénom » (normalised) or their address."""
    found = {f"mention:{address}" for address in addresses}
    for first, last in names:
        for words in (f"{first} {last}", f"{last} {first}"):
            found.add("mention:" + " ".join(word for _, _, word in _words(words)))
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


@dataclass(frozen=True)
class MentionFinder:
    """Finds people in free text from the keyed fingerprints of their mentions (no name or address kept)."""

    fingerprints: frozenset[str]
    key: bytes

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where `text` mentions one of the people: the longest run of words first."""
        words, spans, i = _words(text), [], 0
        while i < len(words):
            for n in range(min(MAX_NAME_WORDS, len(words) - i), 0, -1):
                run = words[i : i + n]
                if pseudonym("mention:" + " ".join(w[2] for w in run), self.key) in self.fingerprints:
                    spans.append((run[0][0], run[-1][1]))
                    i += n
                    break
            else:
                i += 1
        return spans

    def redact(self, value: object) -> object:
        """The value with each mention replaced by « [effacé] » (lists item by item; other values as they are)."""
        if isinstance(value, list):
            return [self.redact(item) for item in value]
        if not isinstance(value, str) or not self.fingerprints:
            return value
        for start, end in reversed(self.spans(value)):
            value = value[:start] + REDACTED + value[end:]
        return value
