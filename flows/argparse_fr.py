"""argparse in French: its own words (usage, options, errors) and « vouliez-vous dire … ? » on a near miss.

argparse takes its messages from `gettext` through its module-level `_` and `ngettext`, with no other hook and
no French catalogue shipped with Python: `use_french()` points those two names at the table below. Any message
the table lacks stays as argparse wrote it (a test runs every command's --help and looks for English words).
"""

from __future__ import annotations

import argparse
import difflib

FRENCH = {
    "usage: ": "usage : ",
    "options": "options",
    "positional arguments": "arguments",
    "show this help message and exit": "afficher cette aide et quitter",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
    "the following arguments are required: %s": "arguments obligatoires manquants : %s",
    "unrecognized arguments: %s": "arguments non reconnus : %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "choix invalide : %(value)r (choix possibles : %(choices)s)",
    "argument %(argument_name)s: %(message)s": "argument %(argument_name)s : %(message)s",
    "expected one argument": "une valeur attendue",
    "expected at most one argument": "au plus une valeur attendue",
    "expected at least one argument": "au moins une valeur attendue",
    "invalid %(type)s value: %(value)r": "valeur invalide (%(type)s attendu) : %(value)r",
    "not allowed with argument %s": "incompatible avec l'argument %s",
    "one of the arguments %s is required": "l'un des arguments %s est obligatoire",
    "ambiguous option: %(option)s could match %(matches)s": "option ambiguë : %(option)s peut désigner %(matches)s",
    "ignored explicit argument %r": "valeur %r ignorée",
    "unexpected option string: %s": "option inattendue : %s",
    "can't open '%(filename)s': %(error)s": "impossible d'ouvrir « %(filename)s » : %(error)s",
    "expected %s argument": "%s valeur attendue",
    "expected %s arguments": "%s valeurs attendues",
}
TYPE_NAMES = {"int": "nombre entier", "float": "nombre"}


def translate(message: str) -> str:
    """argparse's gettext: the French text of one of its messages."""
    return FRENCH.get(message, message)


def translate_plural(singular: str, plural: str, count: int) -> str:
    return translate(singular if count == 1 else plural)


def use_french() -> None:
    """From now on, argparse speaks French in this process."""
    argparse._ = translate  # type: ignore[attr-defined]
    argparse.ngettext = translate_plural  # type: ignore[attr-defined]


class FrenchArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose wrong choices come with the nearest valid ones, and whose type names are French."""

    def _check_value(self, action: argparse.Action, value: object) -> None:
        if action.choices is None or value in action.choices:
            return
        choices = [str(choice) for choice in action.choices]
        near = difflib.get_close_matches(str(value), choices, n=2, cutoff=0.6)
        hint = f" Vouliez-vous dire {' ou '.join(f'« {c} »' for c in near)} ?" if near else ""
        raise argparse.ArgumentError(
            action, f"choix invalide : « {value} » (choix possibles : {', '.join(choices)}).{hint}"
        )

    def _get_value(self, action: argparse.Action, arg_string: str) -> object:
        try:
            return super()._get_value(action, arg_string)
        except argparse.ArgumentError as error:
            name = getattr(action.type, "__name__", "")
            if name in TYPE_NAMES:
                raise argparse.ArgumentError(action, f"« {arg_string} » n'est pas un {TYPE_NAMES[name]}") from None
            raise error
