"""flows/identity.py: how a person is named in free text, and found again from keyed fingerprints only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from flows.identity import MentionFinder, mention_identities, normalised_phone, phones_in, pseudonym

KEY = b"cle-de-test"


def finder(names=(), addresses=(), phones=()) -> MentionFinder:
    identities = mention_identities(names, addresses, phones)
    return MentionFinder(frozenset(pseudonym(identity, KEY) for identity in identities), KEY)


def test_a_civility_and_the_surname_name_the_person_whatever_the_civility_case_and_dot():
    zelie = finder([("Zélie", "Quintard")])

    assert zelie.redact("Atelier animé par Mme Quintard") == "Atelier animé par [effacé]"
    assert zelie.redact("avec M. QUINTARD, Monsieur quintard et Mlle Quintard.") == (
        "avec [effacé], [effacé] et [effacé]."
    )
    assert zelie.redact("Riom chez Zélie Quintard") == "Riom chez [effacé]"
    # The surname alone, or after a word that is not a civility, is not enough (it may be a place or a word).
    assert zelie.redact("Rue Quintard, chez Quintard") == "Rue Quintard, chez Quintard"


def test_a_compound_surname_after_a_civility_is_one_mention():
    assert finder([("Aminata", "N’Diaye")]).redact("Madame N'DIAYE viendra") == "[effacé] viendra"


def test_phone_numbers_are_one_identity_whatever_their_separators_and_country_code():
    written = ["06 12 34 56 78", "06.12.34.56.78", "0612345678", "+33 6 12 34 56 78", "+33 (0)6 12 34 56 78",
               "0033 612345678", "06-12-34-56-78"]

    assert {normalised_phone(text) for text in written} == {"0612345678"}
    assert phones_in("tél. " + " ou ".join(written)) == {"0612345678"}
    assert normalised_phone("12 34") is None and normalised_phone("+44 20 7946 0958") is None


def test_the_persons_phone_is_redacted_and_other_numbers_are_left_alone():
    zelie = finder([("Zélie", "Quintard")], phones=["0612345678"])

    assert zelie.redact("Rappeler au +33 6 12 34 56 78 (bureau : 04 73 00 00 00)") == (
        "Rappeler au [effacé] (bureau : 04 73 00 00 00)"
    )
    assert zelie.redact("Réf. 10612345678") == "Réf. 10612345678"  # inside a longer number: not a phone


def test_the_fingerprints_hold_no_name_and_another_key_recognises_nobody():
    identities = mention_identities([("Zélie", "Quintard")], ["zelie.q@example.org"], ["0612345678"])
    fingerprints = frozenset(pseudonym(identity, KEY) for identity in identities)

    assert not any("quintard" in f or "0612345678" in f for f in fingerprints)
    assert MentionFinder(fingerprints, b"une-autre-cle").redact("Mme Quintard, 0612345678") == "Mme Quintard, 0612345678"


def test_landing_reports_only_the_rows_whose_text_named_an_erased_person():
    from flows.pipeline.land import redact_mentions

    frame = pd.DataFrame({
        "numero_ligne": [2, 3, 4, 5],
        "intitule": ["Atelier", None, np.nan, "Atelier animé par Mme Quintard"],
        "commune": [None, None, None, None],
        "public": pd.Series([np.nan, "Jeunes", None, "Jeunes"], dtype=object),
        "commentaire": pd.Series([None, None, None, None], dtype="str"),  # pandas' text dtype: blanks are NaN
    })

    named = redact_mentions(frame, "activites", finder([("Zélie", "Quintard")]))

    assert named == [5]  # blanks (None, NaN) are never « changed »
    assert frame["intitule"].tolist()[3] == "Atelier animé par [effacé]"
    assert frame["intitule"].tolist()[0] == "Atelier" and frame["public"].tolist()[1] == "Jeunes"


def test_an_address_pasted_from_a_mail_client_is_the_address_itself():
    from flows.identity import normalised_email

    pasted = ["Léa Bertrand <lea.bertrand@example.org>", '"Bertrand, Léa" <Lea.Bertrand@example.org>',
              "mailto:lea.bertrand@example.org", "MAILTO:LEA.BERTRAND@EXAMPLE.ORG;", "lea.bertrand@example.org;",
              "lea.bertrand@example.org.", " lea.bertrand@example.org , "]

    assert {normalised_email(text) for text in pasted} == {"lea.bertrand@example.org"}
    # Two addresses, or none, are no identity: the row falls back to name and structure.
    assert normalised_email("lea@example.org; leo@example.org") is None
    assert normalised_email("Léa Bertrand <>") is None and normalised_email("mailto:") is None


def test_a_full_name_is_one_identity_in_either_order_and_blank_is_none():
    from flows.identity import full_name_identity, name_identity

    assert full_name_identity("Bertrand", "Léa") == full_name_identity("LEA", "bertrand") == "nomcomplet:bertrand lea"
    assert full_name_identity("", None) is None
    # The person without an address stays name then first name: swapped names are two identities (flagged in dbt).
    assert name_identity("Bertrand", "Léa", "PIJ") != name_identity("Léa", "Bertrand", "PIJ")


def test_a_roster_row_gets_its_person_its_name_and_structure_and_its_full_name():
    from flows.identity import roster_identities

    frame = pd.DataFrame({"email": ["mailto:accueil@cs.example.org", "accueil@cs.example.org;", None],
                          "nom": ["Faure", "Masson", "Camille"], "prenom": ["Camille", "Julien", "Faure"],
                          "structure": ["CS", "CS", "CS"]})

    people, names, full_names = roster_identities(frame)

    assert people.tolist()[:2] == ["email:accueil@cs.example.org"] * 2  # one address: the names tell them apart
    assert people[2] == names[2] == "nom:camille faure|cs"
    assert full_names[0] == full_names[2] != full_names[1]
