"""Synthetic Promeneurs du Net networks that follow the input contract, messy cells included.

A network (départements, years, a roster, an activity log, one questionnaire campaign per year) is
drawn from a seeded numpy generator, vectorised over rows. Every generated row is kept twice: its
true, typed values (the ground truth) and the text a coordinator would have typed in the sheet:
département as `3`, `Allier`, `allier `, `Puy de Dome`, `Puy-de-Dôme (63)` or `63 - Puy-de-Dôme`,
dates as Sheets serial numbers, `d/m/Y`, `dd/mm/YYYY` or ISO, decimal commas, reference values in
another case, without accents, with curly apostrophes or stray spaces. Headers vary in case,
accents, apostrophes and spacing, Suivi columns move and gain an extra column, blank rows appear
anywhere, and a few rows per thousand break a rule so that the pipeline must quarantine them.
`expected_indicators` computes, from the ground truth alone, what `bilan.indicateurs_annuels` must
hold.

Two outputs:
- a folder of Google-style CSV exports (`<title> - <tab>.csv`) plus `sources.toml`, for
  `pdn synchroniser --source DIR`;
- a JSON document for `tests.google_emulator.GoogleEmulator.load_json` (typed cells: ints, floats,
  date serials) plus a `sources.toml` holding the spreadsheet keys, for `PDN_SOURCES` and
  `PDN_SHEETS_API_URL`.
Both also write `verite/indicateurs.csv` (expected indicators) and `verite/lignes.json` (row counts).

    .venv/bin/python -m bench.generator --network national --scale 1 --format csv --out /tmp/national
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from flows.settings import DBT_PROJECT_DIR
from flows.sources.catalogue import load_catalogue
from flows.sources.contract import (
    ACTIVITES,
    PROMENEURS,
    REPONSES,
    TableContract,
    normalise_label,
)

SEEDS_DIR = DBT_PROJECT_DIR / "seeds"  # the reference lists, read from their one home
SERIAL_EPOCH = np.datetime64("1899-12-30", "s")
MODIFIED_TIME = "2025-02-01T10:00:00.000Z"
TIME_ZONE = "Europe/Paris"

# National network of the benchmark at scale 1 (issue 7): 101 départements x 10 years.
NATIONAL_YEARS = tuple(range(2015, 2025))
NATIONAL_PROMENEURS = 5_000
NATIONAL_ACTIVITES = 500_000
NATIONAL_REPONSES = 20_000

# The catalogue questions the generated questionnaires ask (the 2019 form).
GENERATED_QUESTIONS = (
    "supports", "reseaux", "echanges", "publications", "interet_reseaux_sociaux", "interet_reseau_pdn",
    "interet_formations", "interet_journees_echanges", "commentaires",
)

# Cells a French Google Sheet stores typed (numbers, dates) when typed in; the rest stays text.
TYPED_FIELDS = frozenset(
    {
        "departement", "date_signature_charte", "date_sortie", "date", "participants", "duree_jours",
        "horodateur", "interet_reseaux_sociaux", "interet_reseau_pdn", "interet_formations",
        "interet_journees_echanges",
    }
)

# Invented people: the e-mails use the reserved example.org domain.
PRENOMS = (
    "Léa", "Hugo", "Chloé", "Lucas", "Manon", "Théo", "Inès", "Nathan", "Camille", "Jules",
    "Sarah", "Louis", "Emma", "Mathéo", "Zoé", "Noah", "Jade", "Enzo", "Anaïs", "Maël",
)
NOMS = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
)
# Publics of the bundled lists (dbt/seeds/listes.csv), and communes as a coordinator types them: a digit in a
# commune would withhold it from the detailed actions and flag the cell.
PUBLICS = ("Jeunes", "Professionnels", "Partenaires", "Promeneurs", "Parents")
COMMUNES = tuple(
    f"{debut}{fin}"
    for debut in ("Saint-Amand", "Beaulieu", "Villeneuve", "Montaigut", "Chateauneuf")
    for fin in ("", "-sur-Allier", "-les-Bains", "-le-Haut", "-en-Combrailles", "-la-Forêt", "-d'Auvergne", "-le-Vieux")
)
COMMENTAIRES = ("Bilan positif, à renouveler", "Suite prévue\nen septembre", "Reporté une fois")
AUTRES = {
    "supports": ("Console de jeux",),
    "reseaux": ("LinkedIn", "Twitch", "WhatsApp"),
    "publications": ("Offres d'emploi, de stage et de jobs d'été", "Vidéos de nos ateliers"),
}
# Relative frequency of each action type (by the indicator it feeds); unlisted types weigh 1.
ACTION_WEIGHTS = {
    "presentations_individuelles": 8, "presentations_collectives": 5, "ateliers": 6,
    "accompagnements_individuels": 4, "sessions_formation": 2, "evenements": 1.5,
    "reunions_echange_pratiques": 1, "reunions_accueil": 0.5, "reunions_lancement": 0.3,
    "comites_pilotage": 0.3, "comites_techniques": 0.3,
}
UNKNOWN_DEPARTEMENT = "Atlantide"


# ---------------------------------------------------------------------------------------------------
# Reference lists (dbt/seeds/listes.csv and the other seeds) and the network's shape
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """The dbt seeds the generator draws canonical values from."""

    departements: pd.DataFrame  # code, nom
    types_action: pd.DataFrame  # libelle, indicateur
    profils: tuple[str, ...]
    types_structure: tuple[str, ...]
    options: pd.DataFrame  # question, option, ordre
    indicateurs: tuple[str, ...]


def load_reference(seeds_dir: Path = SEEDS_DIR) -> Reference:
    """Read the reference lists from the dbt seeds, so that the generator never drifts from them."""

    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(seeds_dir / f"{name}.csv", dtype=str, keep_default_na=False)

    options = pd.DataFrame(
        [
            (question.code, option, order)
            for question in load_catalogue()
            if question.kind in ("choix_unique", "choix_multiple")
            for order, option in enumerate(question.options, start=1)
        ],
        columns=["question", "option", "ordre"],
    )
    listes = read("listes")

    def values(liste: str) -> pd.Series:
        return listes.loc[listes["liste"] == liste, "valeur"]

    return Reference(
        departements=read("departements"),
        types_action=listes.loc[listes["liste"] == "Type d'action", ["valeur", "indicateur"]]
        .rename(columns={"valeur": "libelle"})
        .reset_index(drop=True),
        profils=tuple(values("Profil")),
        types_structure=tuple(values("Type de structure")),
        options=options.sort_values(["question", "ordre"], ignore_index=True),
        indicateurs=tuple(read("indicateurs").sort_values("ordre", key=lambda s: s.astype(int))["indicateur"]),
    )


@dataclass(frozen=True)
class NetworkSpec:
    """What to generate: the network, its years, valid row counts and how messy the sheets are."""

    departements: tuple[str, ...]
    annees: tuple[int, ...]
    promeneurs: int
    activites: int
    reponses: int  # approximate: respondents are drawn among Promeneurs active at each clôture
    seed: int = 2019
    invalides_pour_mille: float = 2.0  # rows that break a rule (quarantined), per table
    invalides_min: int = 0  # at least this many per table (small test networks)
    blanches_pour_mille: float = 3.0  # blank sheet rows
    bidepartementales_pour_mille: float = 10.0  # activities shared by two départements ('03/63')
    suivi_par_departement: bool = True  # one Suivi spreadsheet per département, else a single one


def national_spec(scale: float = 1.0, seed: int = 2019) -> NetworkSpec:
    """Every French département over ten years; `scale` multiplies every row count."""
    codes = tuple(load_reference().departements["code"])
    return NetworkSpec(
        departements=codes,
        annees=NATIONAL_YEARS,
        promeneurs=max(len(codes), round(NATIONAL_PROMENEURS * scale)),
        activites=max(len(codes), round(NATIONAL_ACTIVITES * scale)),
        reponses=round(NATIONAL_REPONSES * scale),
        seed=seed,
    )


def small_spec(seed: int = 2019) -> NetworkSpec:
    """Three départements (one written 2A) over two years, a few hundred rows: for tests."""
    return NetworkSpec(
        departements=("03", "63", "2A"),
        annees=(2019, 2020),
        promeneurs=60,
        activites=240,
        reponses=50,
        seed=seed,
        invalides_min=5,  # every kind of broken row at least once
        blanches_pour_mille=20.0,
        bidepartementales_pour_mille=30.0,
    )


# ---------------------------------------------------------------------------------------------------
# Generated tables and sheets
# ---------------------------------------------------------------------------------------------------


@dataclass
class Table:
    """One contract table: ground truth per generated row and the text typed in the sheet."""

    contract: TableContract
    verite: pd.DataFrame  # typed true values, est_valide, motif, tableur (spreadsheet title), ordre
    cellules: pd.DataFrame  # contract column name -> displayed text, same index as verite


@dataclass
class Sheet:
    """One tab as the coordinator keeps it: header variants, column order, blank rows."""

    spreadsheet: str
    key: str
    tab: str
    header: list[str]
    fields: list[str | None]  # contract column of each sheet column (None: an extra column)
    rows: pd.DataFrame  # text cells, positional columns in header order


@dataclass
class GeneratedNetwork:
    """A generated network: its configuration, ground truth and sheets."""

    spec: NetworkSpec
    reference: Reference
    suivis: pd.DataFrame  # titre, cle (one per département, or a single one)
    campagnes: pd.DataFrame  # annee, titre, cle, ouverture, cloture
    promeneurs: Table
    activites: Table
    reponses: Table
    sheets: list[Sheet] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------
# Messy text
# ---------------------------------------------------------------------------------------------------


def strip_accents(text: str) -> str:
    """Text without diacritics ('Puy-de-Dôme' -> 'Puy-de-Dome')."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _label_variants(label: str) -> list[str]:
    """Ways a reference value gets typed; all match the canonical label in staging."""
    return [
        label,
        label.lower(),
        label.upper(),
        strip_accents(label),
        label.replace("'", "’"),
        label.replace(" ", "  ", 1),
        f" {label} ",
        f"{label}\u00a0",  # non-breaking space, as French typography leaves behind
    ]


LABEL_VARIANT_WEIGHTS = np.array([0.80, 0.05, 0.02, 0.05, 0.02, 0.02, 0.03, 0.01])


def _departement_variants(code: str, nom: str) -> list[str]:
    """Ways a département gets typed in the short-answer and free-text cells."""
    unpadded = str(int(code)) if code.isdigit() else code.lower()
    return [
        code,
        unpadded,
        nom,
        f"{nom.lower()} ",
        strip_accents(nom).replace("-", " "),
        f"{nom} ({code})",
        f"{code} - {nom}",
    ]


DEPARTEMENT_VARIANT_WEIGHTS = np.array([0.75, 0.06, 0.06, 0.03, 0.03, 0.035, 0.035])


def _header_variants(label: str) -> list[str]:
    """Ways a header cell drifts from the contract; every one matches it (checked on use)."""
    return [
        label,
        label.upper(),
        label.lower(),
        strip_accents(label),
        label.replace("'", "’"),
        f" {label} ",
        f"{label}  ",
        label.capitalize(),
    ]


def _pick_variants(
    rng: np.random.Generator, table: np.ndarray, index: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Row-wise pick from a (values x variants) table: the value's row, a random variant column."""
    variant = rng.choice(table.shape[1], size=len(index), p=weights / weights.sum())
    return table[index, variant]


def _labels_text(rng: np.random.Generator, labels: tuple[str, ...], index: np.ndarray) -> np.ndarray:
    """Messy text of reference values given by their index in `labels`."""
    table = np.array([_label_variants(label) for label in labels], dtype=object)
    return _pick_variants(rng, table, index, LABEL_VARIANT_WEIGHTS)


def _two_digits(values: pd.Series) -> pd.Series:
    """Zero-padded two-digit text of whole numbers."""
    return values.astype(str).str.zfill(2)


def date_texts(rng: np.random.Generator, days: np.ndarray, weights=(0.70, 0.10, 0.10, 0.10)) -> np.ndarray:
    """Dates (datetime64[D], NaT -> '') as typed: dd/mm/YYYY, d/m/YYYY, ISO or a serial number."""
    out = np.full(len(days), "", dtype=object)
    present = ~np.isnat(days)
    stamps = pd.Series(pd.DatetimeIndex(days[present]))
    day, month, year = stamps.dt.day, stamps.dt.month, stamps.dt.year.astype(str)
    variants = [
        _two_digits(day) + "/" + _two_digits(month) + "/" + year,
        day.astype(str) + "/" + month.astype(str) + "/" + year,
        year + "-" + _two_digits(month) + "-" + _two_digits(day),
        pd.Series((days[present].astype("datetime64[D]") - SERIAL_EPOCH.astype("datetime64[D]")).astype(int))
        .astype(str),
    ]
    choice = rng.choice(len(variants), size=int(present.sum()), p=np.array(weights) / sum(weights))
    out[present] = np.select([choice == k for k in range(len(variants))], [v.to_numpy(object) for v in variants])
    return out


def datetime_texts(rng: np.random.Generator, moments: np.ndarray) -> np.ndarray:
    """Date-times (datetime64[s]) as typed: Google's dd/mm/YYYY HH:MM:SS, ISO, or a fractional serial."""
    stamps = pd.Series(pd.DatetimeIndex(moments))
    clock = _two_digits(stamps.dt.hour) + ":" + _two_digits(stamps.dt.minute) + ":" + _two_digits(stamps.dt.second)
    day, month, year = _two_digits(stamps.dt.day), _two_digits(stamps.dt.month), stamps.dt.year.astype(str)
    serial = (moments.astype("datetime64[s]") - SERIAL_EPOCH).astype("int64") / 86400.0
    variants = [
        day + "/" + month + "/" + year + " " + clock,
        year + "-" + month + "-" + day + " " + clock,
        pd.Series(serial).astype(str),
    ]
    choice = rng.choice(len(variants), size=len(moments), p=[0.85, 0.05, 0.10])
    return np.select([choice == k for k in range(len(variants))], [v.to_numpy(object) for v in variants])


def _concat(*parts) -> np.ndarray:
    """Element-wise string concatenation of arrays/Series/scalars, as an object array."""
    length = next(len(part) for part in parts if not isinstance(part, str))
    result = pd.Series(np.full(length, "", dtype=object))
    for part in parts:
        result = result + (part if isinstance(part, str) else pd.Series(np.asarray(part, dtype=object)))
    return result.to_numpy(dtype=object)


def _counts_per_departement(rng: np.random.Generator, total: int, weights: np.ndarray) -> np.ndarray:
    """Split `total` rows over départements (each gets at least one): a tab is never empty."""
    return 1 + rng.multinomial(total - len(weights), weights / weights.sum())


# ---------------------------------------------------------------------------------------------------
# The three tables
# ---------------------------------------------------------------------------------------------------


def _generate_promeneurs(
    rng: np.random.Generator, spec: NetworkSpec, ref: Reference, names: np.ndarray, weights: np.ndarray,
    titles: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Valid roster rows: ground truth and typed text."""
    counts = _counts_per_departement(rng, spec.promeneurs, weights)
    dep = np.repeat(np.arange(len(spec.departements)), counts)
    n = len(dep)
    first, last = spec.annees[0], spec.annees[-1]
    start = np.datetime64(f"{first - 3}-01-01", "D")
    span = (np.datetime64(f"{last + 1}-01-31", "D") - start).astype(int)
    # Later charters are more frequent: the network grows.
    charte = start + (rng.random(n) ** 0.7 * span).astype("timedelta64[D]")
    sortie = charte + (30 + rng.exponential(900, n)).astype("timedelta64[D]")
    sortie[(rng.random(n) >= 0.3) | (sortie > np.datetime64(f"{last + 1}-06-30", "D"))] = np.datetime64("NaT")
    profil = rng.integers(len(ref.profils), size=n)
    structure = rng.integers(len(ref.types_structure), size=n)
    prenom, nom = rng.integers(len(PRENOMS), size=n), rng.integers(len(NOMS), size=n)
    commune = rng.integers(len(COMMUNES), size=n)
    codes = np.array(spec.departements, dtype=object)
    email = _concat(
        np.array([strip_accents(p).lower() for p in PRENOMS], dtype=object)[prenom], ".",
        np.array([strip_accents(p).lower() for p in NOMS], dtype=object)[nom], ".",
        pd.Series(np.arange(n)).astype(str), "@example.org",
    )
    verite = pd.DataFrame(
        {
            "departement": codes[dep],
            "profil": np.array(ref.profils, dtype=object)[profil],
            "type_structure": np.array(ref.types_structure, dtype=object)[structure],
            "date_signature_charte": charte,
            "date_sortie": sortie,
            "email": email,
            "tableur": titles[dep],
            "ordre": charte.astype("datetime64[s]"),
        }
    )
    communes = np.array(COMMUNES, dtype=object)[commune]
    nom_text = np.array(NOMS, dtype=object)[nom]
    upper = rng.random(n) < 0.5
    nom_text[upper] = pd.Series(nom_text[upper]).str.upper().to_numpy(object)
    mixed = rng.random(n) < 0.03
    email_text = email.copy()
    email_text[mixed] = pd.Series(email[mixed]).str.title().to_numpy(object)
    cellules = pd.DataFrame(
        {
            "nom": nom_text,
            "prenom": np.array(PRENOMS, dtype=object)[prenom],
            "email": email_text,
            "departement": _pick_variants(rng, names, dep, DEPARTEMENT_VARIANT_WEIGHTS),
            "commune": communes,
            "structure": _concat(verite["type_structure"], " de ", communes),
            "type_structure": _labels_text(rng, ref.types_structure, structure),
            "profil": _labels_text(rng, ref.profils, profil),
            "date_signature_charte": date_texts(rng, charte),
            "date_sortie": date_texts(rng, sortie),
        }
    )
    # A profile off its list is a cell to correct, not a lost Promeneur: counted, without a profile.
    off_list = rng.choice(n, size=min(n, _invalid_count(spec, n)), replace=False)
    verite.loc[off_list, "profil"] = None
    cellules.loc[off_list, "profil"] = "Stagiaire"
    return verite, cellules


def _generate_activites(
    rng: np.random.Generator, spec: NetworkSpec, ref: Reference, names: np.ndarray, weights: np.ndarray,
    titles: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Valid activity rows, some shared by two départements: ground truth and typed text."""
    counts = _counts_per_departement(rng, spec.activites, weights)
    dep = np.repeat(np.arange(len(spec.departements)), counts)
    n = len(dep)
    codes = np.array(spec.departements, dtype=object)
    # Shared actions: the other département is any other one of the network.
    shared = rng.random(n) < spec.bidepartementales_pour_mille / 1000 if len(codes) > 1 else np.zeros(n, bool)
    other = (dep + rng.integers(1, max(len(codes), 2), size=n)) % len(codes)
    pair = np.sort(np.stack([codes[dep], codes[other]]).astype(str), axis=0)
    departement = np.where(shared, _concat(pair[0], "/", pair[1]), codes[dep])
    departement_text = _pick_variants(rng, names, dep, DEPARTEMENT_VARIANT_WEIGHTS)
    departement_text[shared] = _concat(codes[dep][shared], "/", codes[other][shared])
    # More activity in later years: the network grows.
    years = np.array(spec.annees)
    year_weights = 1 + 0.15 * np.arange(len(years))
    year = years[rng.choice(len(years), size=n, p=year_weights / year_weights.sum())]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    day = np.datetime64("1970", "Y") + (year - 1970).astype("timedelta64[Y]")
    date = day.astype("datetime64[D]") + (rng.random(n) * (365 + leap)).astype("timedelta64[D]")
    action_weights = np.array([ACTION_WEIGHTS.get(i, 1.0) for i in ref.types_action["indicateur"]])
    action = rng.choice(len(ref.types_action), size=n, p=action_weights / action_weights.sum())
    indicateur = ref.types_action["indicateur"].to_numpy(object)[action]
    formation = indicateur == "sessions_formation"
    duree = np.where(formation, rng.choice([0.5, 1.0, 1.5, 2.0], size=n, p=[0.4, 0.4, 0.1, 0.1]), np.nan)
    other_duree = ~formation & (rng.random(n) < 0.15)
    duree[other_duree] = rng.choice([0.5, 1.0], size=int(other_duree.sum()))
    duree_text = pd.Series(duree).astype(str).str.replace(".0", "", regex=False).str.replace(".", ",", regex=False)
    duree_text = duree_text.where(~np.isnan(duree), "").to_numpy(object)
    participants = rng.integers(1, 41, size=n)
    participants_text = pd.Series(participants).astype(str).to_numpy(object)
    participants_text[rng.random(n) < 0.05] = ""
    commune = np.array(COMMUNES, dtype=object)[rng.integers(len(COMMUNES), size=n)]
    libelles = ref.types_action["libelle"].to_numpy(object)
    commentaire = np.array(("",) + COMMENTAIRES, dtype=object)[
        rng.choice(len(COMMENTAIRES) + 1, size=n, p=[0.94] + [0.06 / len(COMMENTAIRES)] * len(COMMENTAIRES))
    ]
    verite = pd.DataFrame(
        {
            "departement": departement,
            "date": date,
            "indicateur": indicateur,
            "duree_jours": duree,
            "tableur": titles[dep],
            "ordre": date.astype("datetime64[s]"),
        }
    )
    cellules = pd.DataFrame(
        {
            "date": date_texts(rng, date),
            "departement": departement_text,
            "type_action": _labels_text(rng, tuple(libelles), action),
            "intitule": _concat(libelles[action], " - ", commune),
            "commune": commune,
            "public": np.array(PUBLICS, dtype=object)[rng.integers(len(PUBLICS), size=n)],
            "participants": participants_text,
            "duree_jours": duree_text,
            "commentaire": commentaire,
        }
    )
    return verite, cellules


def _checkbox_texts(rng: np.random.Generator, options: list[str], autres: tuple[str, ...], n: int) -> np.ndarray:
    """Google Forms checkbox answers: chosen options joined with ', ' in form order, 'Autre' text last."""
    chosen = rng.random((n, len(options))) < 0.45
    masks = chosen @ (1 << np.arange(len(options)))
    # One text per subset of options (at most 2^7): the rows only index into it.
    subsets = np.array(
        [", ".join(o for bit, o in enumerate(options) if mask >> bit & 1) for mask in range(2 ** len(options))],
        dtype=object,
    )
    text = subsets[masks]
    autre = np.array(autres, dtype=object)[rng.integers(len(autres), size=n)]
    with_autre = rng.random(n) < 0.05
    joined = np.where(text == "", autre, _concat(text, ", ", autre))
    return np.where(with_autre, joined, text)


def _generate_reponses(
    rng: np.random.Generator, spec: NetworkSpec, ref: Reference, names: np.ndarray,
    promeneurs: pd.DataFrame, campagnes: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Valid questionnaire responses by Promeneurs active at each clôture, some answered twice."""
    codes = {code: index for index, code in enumerate(spec.departements)}
    charte = promeneurs["date_signature_charte"].to_numpy()
    sortie = promeneurs["date_sortie"].to_numpy()
    actifs = [
        (charte <= cloture) & (np.isnat(sortie) | (sortie >= cloture))
        for cloture in campagnes["cloture"].to_numpy("datetime64[D]")
    ]
    repeat_share = 0.06
    total_actifs = sum(int(a.sum()) for a in actifs)
    share = min(0.9, spec.reponses / (1 + repeat_share) / max(total_actifs, 1))
    picks, campaign = [], []
    for number, actif in enumerate(actifs):  # one pass per campaign (ten at most), vectorised inside
        chosen = np.flatnonzero(actif & (rng.random(len(actif)) < share))
        again = chosen[rng.random(len(chosen)) < repeat_share]
        picks += [chosen, again]
        campaign += [np.full(len(chosen), number), np.full(len(again), number)]
    who, number = np.concatenate(picks), np.concatenate(campaign)
    n = len(who)
    ouverture = campagnes["ouverture"].to_numpy("datetime64[s]")[number]
    cloture = campagnes["cloture"].to_numpy("datetime64[s]")[number]
    window = (cloture - ouverture).astype("int64") + 12 * 3600
    moment = ouverture + (8 * 3600 + rng.random(n) * window).astype("timedelta64[s]")
    # The repeated answers come first: 1 hour to 5 days before the respondent's latest one (within the campaign).
    repeated = np.concatenate([np.full(len(p), k % 2 == 1) for k, p in enumerate(picks)])
    latest_of = pd.Series(moment[~repeated], index=pd.MultiIndex.from_arrays([who[~repeated], number[~repeated]]))
    base = latest_of.reindex(pd.MultiIndex.from_arrays([who[repeated], number[repeated]])).to_numpy("datetime64[s]")
    earlier = base - rng.integers(3600, 5 * 86400, size=int(repeated.sum())).astype("timedelta64[s]")
    # Still within the campaign (an answer before it opened would be quarantined, not superseded).
    moment[repeated] = np.maximum(earlier, ouverture[repeated] + np.timedelta64(3600, "s"))
    departement = promeneurs["departement"].to_numpy(object)[who]
    dep_index = pd.Series(departement).map(codes).to_numpy()
    email = promeneurs["email"].to_numpy(object)[who]
    email_text = email.copy()
    style = rng.random(n)
    email_text[style < 0.10] = pd.Series(email[style < 0.10]).str.title().to_numpy(object)
    email_text[style > 0.95] = _concat(" ", email[style > 0.95], " ")
    options = {q: list(g["option"]) for q, g in ref.options.groupby("question", sort=False)}
    interets = {}
    for column in ("interet_reseaux_sociaux", "interet_reseau_pdn", "interet_formations", "interet_journees_echanges"):
        values = pd.Series(rng.integers(1, 6, size=n)).astype(str).to_numpy(object)
        values[rng.random(n) < 0.02] = ""
        interets[column] = values
    verite = pd.DataFrame(
        {
            "annee": campagnes["annee"].to_numpy()[number],
            "departement": departement,
            "email": email,
            "horodateur": moment,
            "tableur": campagnes["titre"].to_numpy(object)[number],
            "ordre": moment,
        }
    )
    cellules = pd.DataFrame(
        {
            "horodateur": datetime_texts(rng, moment),
            "email": email_text,
            "departement": _pick_variants(rng, names, dep_index, DEPARTEMENT_VARIANT_WEIGHTS),
            "supports": _checkbox_texts(rng, options["supports"], AUTRES["supports"], n),
            "reseaux": _checkbox_texts(rng, options["reseaux"], AUTRES["reseaux"], n),
            "echanges": np.array(options["echanges"], dtype=object)[rng.integers(len(options["echanges"]), size=n)],
            "publications": _checkbox_texts(rng, options["publications"], AUTRES["publications"], n),
            **interets,
            "commentaires": np.where(rng.random(n) < 0.05, "Merci pour les formations, très utiles", ""),
        }
    )
    return verite, cellules


# ---------------------------------------------------------------------------------------------------
# Rows that break a rule
# ---------------------------------------------------------------------------------------------------


def _invalid_count(spec: NetworkSpec, valid_rows: int) -> int:
    """How many broken rows to add to a table of `valid_rows` valid rows."""
    return max(spec.invalides_min, round(valid_rows * spec.invalides_pour_mille / 1000))


def _add_invalid_rows(
    rng: np.random.Generator, spec: NetworkSpec, verite: pd.DataFrame, cellules: pd.DataFrame,
    kinds: list[str], corrupt: Callable[[str, np.ndarray, pd.DataFrame, pd.DataFrame], None],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Append copies of random valid rows, each broken in one way (`corrupt` edits both frames)."""
    verite = verite.assign(est_valide=True, motif="")
    count = _invalid_count(spec, len(verite))
    if count == 0:
        return verite, cellules
    source = rng.integers(len(verite), size=count)
    bad_verite = verite.iloc[source].reset_index(drop=True).assign(est_valide=False)
    bad_cells = cellules.iloc[source].reset_index(drop=True)
    bad_verite["motif"] = np.array(kinds, dtype=object)[np.arange(count) % len(kinds)]
    for kind in kinds:  # one vectorised edit per kind of fault
        corrupt(kind, (bad_verite["motif"] == kind).to_numpy(), bad_verite, bad_cells)
    return (
        pd.concat([verite, bad_verite], ignore_index=True),
        pd.concat([cellules, bad_cells], ignore_index=True),
    )


def _outside_code(spec: NetworkSpec, ref: Reference) -> str | None:
    """A real département that is not in the network, if there is one."""
    outside = [code for code in ref.departements["code"] if code not in spec.departements]
    return outside[0] if outside else None


def _invalid_promeneurs(
    rng: np.random.Generator, spec: NetworkSpec, ref: Reference, verite: pd.DataFrame, cellules: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Exit before the charter, unknown département, unreadable date, département off the network."""
    kinds = ["sortie_avant_charte", "departement_inconnu", "date_illisible"]
    outside = _outside_code(spec, ref)
    if outside:
        kinds.append("hors_reseau")

    def corrupt(kind: str, mask: np.ndarray, v: pd.DataFrame, c: pd.DataFrame) -> None:
        # A broken row is a different person: its own e-mail, so it never shadows a valid one.
        emails = [f"promeneur.invalide.{i}@example.org" for i in np.flatnonzero(mask)]
        c.loc[mask, "email"] = v.loc[mask, "email"] = emails
        if kind == "sortie_avant_charte":
            exit_day = v.loc[mask, "date_signature_charte"].to_numpy("datetime64[D]") - np.timedelta64(45, "D")
            v.loc[mask, "date_sortie"] = exit_day
            c.loc[mask, "date_sortie"] = date_texts(rng, exit_day)
        elif kind == "departement_inconnu":
            c.loc[mask, "departement"] = "Atlantide"
        elif kind == "date_illisible":
            c.loc[mask, "date_signature_charte"] = "31/02/" + v.loc[mask, "date_signature_charte"].dt.year.astype(str)
        else:
            c.loc[mask, "departement"] = outside

    return _add_invalid_rows(rng, spec, verite, cellules, kinds, corrupt)


def _invalid_activites(
    rng: np.random.Generator, spec: NetworkSpec, ref: Reference, verite: pd.DataFrame, cellules: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Impossible date, unknown action type, unknown département, Formation without duration."""
    kinds = ["date_illisible", "type_hors_liste", "departement_inconnu", "formation_sans_duree"]
    outside = _outside_code(spec, ref)
    if outside:
        kinds.append("hors_reseau")
    formation = ref.types_action.loc[ref.types_action["indicateur"] == "sessions_formation", "libelle"].iloc[0]

    def corrupt(kind: str, mask: np.ndarray, v: pd.DataFrame, c: pd.DataFrame) -> None:
        if kind == "date_illisible":
            c.loc[mask, "date"] = "31/06/" + v.loc[mask, "date"].dt.year.astype(str)
        elif kind == "type_hors_liste":
            c.loc[mask, "type_action"] = "Permanence en ligne"
        elif kind == "departement_inconnu":
            c.loc[mask, "departement"] = UNKNOWN_DEPARTEMENT
        elif kind == "formation_sans_duree":
            c.loc[mask, "type_action"] = formation
            c.loc[mask, "duree_jours"] = ""
        else:
            c.loc[mask, "departement"] = outside

    return _add_invalid_rows(rng, spec, verite, cellules, kinds, corrupt)


def _invalid_reponses(
    rng: np.random.Generator, spec: NetworkSpec, ref: Reference, verite: pd.DataFrame, cellules: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Interest outside 1-5, an answer outside its campaign, unknown département, unreadable timestamp."""
    kinds = ["interet_hors_echelle", "hors_periode", "departement_inconnu", "horodateur_illisible"]

    def corrupt(kind: str, mask: np.ndarray, v: pd.DataFrame, c: pd.DataFrame) -> None:
        # Someone who answers nowhere else: a broken answer never supersedes a valid one.
        emails = [f"repondant.invalide.{i}@example.org" for i in np.flatnonzero(mask)]
        c.loc[mask, "email"] = v.loc[mask, "email"] = emails
        if kind == "interet_hors_echelle":
            c.loc[mask, "interet_reseau_pdn"] = "7"
        elif kind == "hors_periode":  # a year before the campaign opened
            c.loc[mask, "horodateur"] = datetime_texts(rng, (v.loc[mask, "horodateur"] - pd.DateOffset(years=1)).to_numpy())
        elif kind == "departement_inconnu":
            c.loc[mask, "departement"] = UNKNOWN_DEPARTEMENT
        else:
            c.loc[mask, "horodateur"] = "32/12/" + v.loc[mask, "horodateur"].dt.year.astype(str) + " 10:00:00"

    return _add_invalid_rows(rng, spec, verite, cellules, kinds, corrupt)


# ---------------------------------------------------------------------------------------------------
# Spreadsheets
# ---------------------------------------------------------------------------------------------------


def _layout(
    rng: np.random.Generator, spec: NetworkSpec, table: Table, keys: dict[str, str], shuffle: bool
) -> list[Sheet]:
    """Split a table into its spreadsheets' tabs, in sheet order, with header drift and blank rows."""
    contract = table.contract
    labels = sheet_labels(contract)
    names = list(labels)
    order = table.verite.sort_values(["tableur", "ordre"], kind="stable").index
    cells = table.cellules.loc[order, names]
    titles = table.verite.loc[order, "tableur"].to_numpy()
    sheets = []
    bounds = np.flatnonzero(np.r_[True, titles[1:] != titles[:-1], True])
    for start, stop in zip(bounds[:-1], bounds[1:]):  # one pass per spreadsheet, not per row
        title = titles[start]
        block = cells.iloc[start:stop].to_numpy(dtype=object)
        fields: list[str | None] = list(names)
        if shuffle and rng.random() < 0.5:
            fields = list(np.array(names, dtype=object)[rng.permutation(len(names))])
        block = block[:, [names.index(f) for f in fields]]
        header = []
        for name in fields:
            label = labels[name]
            variants = _header_variants(label)
            drifted = variants[rng.choice(len(variants), p=[0.6] + [0.4 / (len(variants) - 1)] * (len(variants) - 1))]
            assert normalise_label(drifted) == normalise_label(label), drifted
            header.append(drifted)
        if contract is PROMENEURS and rng.random() < 0.3:
            fields.append(None)
            header.append("Remarques")
            note = np.where(rng.random(len(block)) < 0.05, "À relancer", "").astype(object)
            block = np.column_stack([block, note])
        sheets.append(
            Sheet(title, keys[title], contract.tab_titles[0], header, fields, _with_blank_rows(rng, spec, block))
        )
    return sheets


def sheet_labels(contract: TableContract) -> dict[str, str]:
    """Header of each generated column: the contract's, and for responses each catalogue question's form header."""
    if contract is not REPONSES:
        return dict(contract.columns)
    questions = {q.code: q.headers[0] for q in load_catalogue() if q.code in GENERATED_QUESTIONS}
    return dict(contract.columns) | questions


def _with_blank_rows(rng: np.random.Generator, spec: NetworkSpec, block: np.ndarray) -> pd.DataFrame:
    """Scatter blank rows among the data rows (anywhere, including the end)."""
    blanks = rng.binomial(len(block), spec.blanches_pour_mille / 1000)
    total = len(block) + blanks
    is_blank = np.zeros(total, bool)
    is_blank[rng.choice(total, size=blanks, replace=False)] = True
    out = np.full((total, block.shape[1]), "", dtype=object)
    out[~is_blank] = block
    return pd.DataFrame(out)


def generate(spec: NetworkSpec, reference: Reference | None = None) -> GeneratedNetwork:
    """Draw a whole network, deterministically from `spec.seed`."""
    ref = reference or load_reference()
    rng = np.random.default_rng(spec.seed)
    noms = ref.departements.set_index("code")["nom"]
    unknown = [code for code in spec.departements if code not in noms.index]
    if unknown:
        raise ValueError(f"unknown département codes: {unknown}")
    names = np.array([_departement_variants(code, noms[code]) for code in spec.departements], dtype=object)
    if spec.suivi_par_departement:
        suivis = pd.DataFrame({"titre": [f"Suivi {code}" for code in spec.departements]})
        suivis["cle"] = [f"1PdnBenchSuivi-{code}" for code in spec.departements]
        dep_titles = suivis["titre"].to_numpy(object)
    else:
        suivis = pd.DataFrame({"titre": ["Suivi"], "cle": ["1PdnBenchSuivi-reseau"]})
        dep_titles = np.full(len(spec.departements), "Suivi", dtype=object)
    campagnes = pd.DataFrame(
        {
            "annee": list(spec.annees),
            "titre": [f"Questionnaire {y}" for y in spec.annees],
            "cle": [f"1PdnBenchQuestionnaire-{y}" for y in spec.annees],
            "ouverture": pd.to_datetime([f"{y}-12-01" for y in spec.annees]),
            "cloture": pd.to_datetime([f"{y + 1}-01-31" for y in spec.annees]),
        }
    )
    # Départements differ in size, as real ones do.
    weights = rng.lognormal(0.0, 0.6, size=len(spec.departements))
    promeneurs = _generate_promeneurs(rng, spec, ref, names, weights, dep_titles)
    activites = _generate_activites(rng, spec, ref, names, weights, dep_titles)
    reponses = _generate_reponses(rng, spec, ref, names, promeneurs[0], campagnes)
    network = GeneratedNetwork(
        spec=spec,
        reference=ref,
        suivis=suivis,
        campagnes=campagnes,
        promeneurs=Table(PROMENEURS, *_invalid_promeneurs(rng, spec, ref, *promeneurs)),
        activites=Table(ACTIVITES, *_invalid_activites(rng, spec, ref, *activites)),
        reponses=Table(REPONSES, *_invalid_reponses(rng, spec, ref, *reponses)),
    )
    keys = dict(zip(suivis["titre"], suivis["cle"])) | dict(zip(campagnes["titre"], campagnes["cle"]))
    network.sheets = (
        _layout(rng, spec, network.promeneurs, keys, shuffle=True)
        + _layout(rng, spec, network.activites, keys, shuffle=True)
        + _layout(rng, spec, network.reponses, keys, shuffle=False)  # Forms keeps its column order
    )
    return network


# ---------------------------------------------------------------------------------------------------
# Ground truth
# ---------------------------------------------------------------------------------------------------


def expected_indicators(network: GeneratedNetwork) -> pd.DataFrame:
    """What bilan.indicateurs_annuels must hold, computed from the valid generated rows only."""
    spec, ref = network.spec, network.reference
    promeneurs = network.promeneurs.verite.query("est_valide")
    activites = network.activites.verite.query("est_valide").assign(annee=lambda f: f["date"].dt.year)
    reponses = network.reponses.verite.query("est_valide")
    annees = sorted(set(activites["annee"]) | set(network.campagnes["annee"]))
    charte, sortie = promeneurs["date_signature_charte"], promeneurs["date_sortie"]
    values = []

    def add(annee: int, series: pd.Series, indicateur: str, ensemble: float | None = None) -> None:
        frame = series.rename("valeur").rename_axis("departement").reset_index()
        total = series.sum() if ensemble is None else ensemble
        frame = pd.concat([frame, pd.DataFrame({"departement": ["ensemble"], "valeur": [total]})])
        values.append(frame.assign(annee=annee, indicateur=indicateur))

    for annee in annees:  # one pass per year (ten at most)
        # Day conventions (dbt/macros/promeneurs.sql): the charter date is the first day active, the exit date
        # the last; the end of a year is the stock on the evening of 31 December, its start the end of the last.
        debut, fin = pd.Timestamp(annee, 1, 1), pd.Timestamp(annee, 12, 31)
        flags = pd.DataFrame(
            {
                "departement": promeneurs["departement"],
                "promeneurs_actifs_debut_annee": (charte < debut) & (sortie.isna() | (sortie >= debut)),
                "promeneurs_actifs_fin_annee": (charte <= fin) & (sortie.isna() | (sortie > fin)),
                "nouveaux_promeneurs": (charte >= debut) & (charte <= fin),
                "sorties": (sortie >= debut) & (sortie <= fin),
            }
        )
        sums = flags.groupby("departement").sum()
        for indicateur in sums.columns:
            add(annee, sums[indicateur], indicateur)
        actifs_fin = promeneurs[flags["promeneurs_actifs_fin_annee"]]
        for indicateur, column in (("types_profils", "profil"), ("types_structures", "type_structure")):
            add(annee, actifs_fin.groupby("departement")[column].nunique(), indicateur, actifs_fin[column].nunique())

    # Activities: shared actions ('03/63') are rows of their own, summed into 'ensemble' only.
    measures = pd.concat(
        [
            activites.assign(valeur=1.0),
            activites.query("indicateur == 'sessions_formation'").assign(
                indicateur="jours_formation", valeur=lambda f: f["duree_jours"]
            ),
        ]
    )
    per_departement = measures.groupby(["annee", "indicateur", "departement"])["valeur"].sum()
    ensemble = measures.groupby(["annee", "indicateur"])["valeur"].sum()
    values.append(per_departement.reset_index())
    values.append(ensemble.reset_index().assign(departement="ensemble"))

    # Questionnaire: the latest answer of each respondent counts, under its own département.
    latest = reponses.assign(cle=reponses["email"].str.strip().str.lower()).sort_values("horodateur")
    latest = latest.drop_duplicates(["annee", "cle"], keep="last")
    for campagne in network.campagnes.itertuples():  # one pass per campaign
        cloture = pd.Timestamp(campagne.cloture)
        actifs = promeneurs[(charte <= cloture) & (sortie.isna() | (sortie >= cloture))]
        actifs_count = actifs.groupby("departement").size()
        repondants = latest[latest["annee"] == campagne.annee].groupby("departement").size()
        repondants = repondants.reindex(actifs_count.index.union(repondants.index), fill_value=0)
        add(campagne.annee, repondants, "questionnaire_repondants")
        add(campagne.annee, actifs_count, "promeneurs_actifs_cloture_questionnaire")
        taux = (repondants / actifs_count).dropna()
        add(campagne.annee, taux, "questionnaire_taux_participation", repondants.sum() / max(len(actifs), 1))

    found = pd.concat(values, ignore_index=True)
    grid = pd.MultiIndex.from_product(
        [annees, list(spec.departements) + ["ensemble"], list(ref.indicateurs)],
        names=["annee", "departement", "indicateur"],
    ).to_frame(index=False)
    result = grid.merge(found, on=["annee", "departement", "indicateur"], how="left")
    result["valeur"] = result["valeur"].fillna(0.0).astype(float)
    result["annee"] = result["annee"].astype(int)
    return result


def row_counts(network: GeneratedNetwork) -> dict:
    """Rows written per table (valid, quarantined, blank) and valid rows per département."""
    counts = {}
    for table in (network.promeneurs, network.activites, network.reponses):
        name = table.contract.table_name
        verite = table.verite
        sheets = [s for s in network.sheets if s.tab == table.contract.tab_titles[0]]
        counts[name] = {
            "lignes": int(sum(len(s.rows) for s in sheets)),
            "valides": int(verite["est_valide"].sum()),
            "invalides": int((~verite["est_valide"]).sum()),
            "vides": int(sum(len(s.rows) for s in sheets) - len(verite)),
            "valides_par_departement": {
                str(k): int(v) for k, v in verite[verite["est_valide"]].groupby("departement").size().items()
            },
        }
    return counts


# ---------------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------------


def sources_toml(network: GeneratedNetwork, with_keys: bool) -> str:
    """The network's sources.toml (keys only for the Sheets emulator)."""
    spec = network.spec
    codes = ", ".join(f'"{code}"' for code in spec.departements)
    lines = [
        f"# Synthetic network written by bench.generator (seed {spec.seed}).",
        f"departements = [{codes}]",
        "",
    ]
    for suivi in network.suivis.itertuples():
        lines += ["[[suivi]]", f'titre = "{suivi.titre}"'] + ([f'cle = "{suivi.cle}"'] if with_keys else []) + [""]
    for campagne in network.campagnes.itertuples():
        lines += ["[[questionnaires]]", f'titre = "{campagne.titre}"']
        lines += [f'cle = "{campagne.cle}"'] if with_keys else []
        lines += [
            f"annee = {campagne.annee}",
            f"ouverture = {campagne.ouverture.date().isoformat()}",
            f"cloture = {campagne.cloture.date().isoformat()}",
            "",
        ]
    return "\n".join(lines)


def _write_truth(network: GeneratedNetwork, folder: Path) -> None:
    """verite/: the expected indicators and the row counts, beside the sheets (never read by the pipeline)."""
    truth = folder / "verite"
    truth.mkdir(parents=True, exist_ok=True)
    expected_indicators(network).to_csv(truth / "indicateurs.csv", index=False)
    (truth / "lignes.json").write_text(json.dumps(row_counts(network), ensure_ascii=False, indent=2), encoding="utf-8")


def write_csv_folder(network: GeneratedNetwork, folder: Path) -> Path:
    """Google-style CSV exports (UTF-8, CRLF, minimal quoting) plus sources.toml; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for sheet in network.sheets:
        frame = pd.concat([pd.DataFrame([sheet.header]), sheet.rows], ignore_index=True)
        path = folder / f"{sheet.spreadsheet} - {sheet.tab}.csv"
        frame.to_csv(path, header=False, index=False, lineterminator="\r\n")
    (folder / "sources.toml").write_text(sources_toml(network, with_keys=False), encoding="utf-8")
    _write_truth(network, folder)
    return folder


def _json_strings(text: pd.Series) -> pd.Series:
    """JSON string literals of text cells (our text holds no control characters but newlines)."""
    escaped = (
        text.str.replace("\\", "\\\\", regex=False)
        .str.replace('"', '\\"', regex=False)
        .str.replace("\n", "\\n", regex=False)
        .str.replace("\r", "\\r", regex=False)
        .str.replace("\t", "\\t", regex=False)
    )
    return '"' + escaped + '"'


def _json_typed(text: pd.Series) -> pd.Series:
    """JSON cells as a French sheet stores typed-in text: dates as serials, numbers as numbers."""
    out = _json_strings(text)
    stripped = text.str.strip()
    moment = pd.Series(pd.NaT, index=text.index, dtype="datetime64[s]")
    for fmt in ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y", "%Y-%m-%d"):
        moment = moment.fillna(pd.to_datetime(stripped, format=fmt, errors="coerce").astype("datetime64[s]"))
    is_date = moment.notna()
    serial = (moment[is_date].to_numpy("datetime64[s]") - SERIAL_EPOCH).astype("int64") / 86400.0
    serial_text = pd.Series(serial, index=moment[is_date].index)
    whole = serial_text == serial_text.round()
    serial_text = serial_text.astype(str).where(~whole, serial_text.round().astype("int64").astype(str))
    out[is_date] = '{"value": ' + serial_text + ', "date": true}'
    integer = ~is_date & stripped.str.fullmatch(r"[1-9]\d*")
    out[integer] = stripped[integer]
    decimal = ~is_date & stripped.str.fullmatch(r"\d+,\d+")
    out[decimal] = stripped[decimal].str.replace(",", ".", regex=False)
    return out


def _json_rows(sheet: Sheet) -> str:
    """The tab's rows (header first) as JSON arrays, built column-wise."""
    fragments = None
    for position, name in enumerate(sheet.fields):
        column = sheet.rows[position].astype(str)
        cell = _json_typed(column) if name in TYPED_FIELDS else _json_strings(column)
        fragments = cell if fragments is None else fragments + "," + cell
    header = json.dumps(sheet.header, ensure_ascii=False)
    body = ("[" + fragments + "]").tolist() if fragments is not None else []
    return "[" + ",\n".join([header] + body) + "]"


def write_emulator_json(network: GeneratedNetwork, folder: Path) -> Path:
    """`emulateur.json` for SheetsEmulator.load_json and a sources.toml with keys; returns the JSON path."""
    folder.mkdir(parents=True, exist_ok=True)
    by_spreadsheet: dict[str, list[Sheet]] = {}
    for sheet in network.sheets:
        by_spreadsheet.setdefault(sheet.key, []).append(sheet)
    entries = []
    for key, sheets in by_spreadsheet.items():  # one pass per spreadsheet
        meta = json.dumps(
            {"id": key, "title": sheets[0].spreadsheet, "modifiedTime": MODIFIED_TIME, "timeZone": TIME_ZONE},
            ensure_ascii=False,
        )
        tabs = ",\n".join(f"{json.dumps(s.tab, ensure_ascii=False)}: {_json_rows(s)}" for s in sheets)
        entries.append(meta[:-1] + ', "tabs": {\n' + tabs + "}}")
    path = folder / "emulateur.json"
    path.write_text('{"spreadsheets": [\n' + ",\n".join(entries) + "]}\n", encoding="utf-8")
    (folder / "sources.toml").write_text(sources_toml(network, with_keys=True), encoding="utf-8")
    _write_truth(network, folder)
    return path


# ---------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Generate a network and write it as CSV exports or an emulator document."""
    parser = argparse.ArgumentParser(prog="python -m bench.generator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", choices=("national", "small"), default="national")
    parser.add_argument("--scale", type=float, default=1.0, help="row count multiplier (national network)")
    parser.add_argument("--seed", type=int, default=2019)
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)
    spec = national_spec(args.scale, args.seed) if args.network == "national" else small_spec(args.seed)
    network = generate(spec)
    if args.format == "csv":
        write_csv_folder(network, args.out)
    else:
        write_emulator_json(network, args.out)
    counts = row_counts(network)
    summary = {name: {k: v for k, v in c.items() if k != "valides_par_departement"} for name, c in counts.items()}
    spreadsheets = len({sheet.key for sheet in network.sheets})
    print(json.dumps({"dossier": str(args.out), "tableurs": spreadsheets, **summary}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
