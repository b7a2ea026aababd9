"""Who a row is about: the one identity rule, and the pseudonymous keys computed from it.

A person is their normalised e-mail (case, accents and spaces do not matter); when the e-mail is blank
(or is not an address), their name and structure. Keys are a keyed HMAC of that identity, computed when
rows are landed, so no name or e-mail ever needs to leave the private raw history. The same rule finds a
person for an erasure or an access request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

import pandas as pd

from flows.sources.contract import normalise_label

_SPACES = re.compile(r"\s+")
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+$")


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
