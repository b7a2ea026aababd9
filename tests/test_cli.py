"""The command line speaks French: every command's help, argparse's own words, near misses; old names still work."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from flows.cli import build_parser

# argparse's own English, as Python prints it when nobody translates it.
ENGLISH = re.compile(
    r"\b(usage:|positional arguments|show this help message|invalid choice|choose from|the following arguments|"
    r"unrecognized arguments|expected one argument|error:|required:)",
)


def pdn(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, timeout=120)


def subcommands() -> dict[str, list[str]]:
    """Each subcommand's name and aliases, read from the parser itself."""
    parser = build_parser()
    [action] = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    found: dict[str, list[str]] = {}
    for name, sub in action.choices.items():
        found.setdefault(id(sub), []).append(name)
    return {names[0]: names[1:] for names in found.values()}


def test_every_command_has_a_french_name_and_keeps_its_former_one_as_an_alias():
    commands = subcommands()
    assert {"synchroniser", "rapport", "etat", "planifier", "documentation", "recle", "purger"} <= set(commands)
    assert commands["synchroniser"] == ["sync"] and commands["rapport"] == ["report"] and commands["etat"] == ["status"]


@pytest.mark.parametrize("command", [None, *subcommands()])
def test_every_help_is_french_and_says_what_the_command_does(command):
    result = pdn(*([command] if command else []), "--help")
    assert result.returncode == 0
    assert ENGLISH.search(result.stdout) is None, result.stdout
    assert "usage : pdn" in result.stdout
    assert "afficher cette aide et quitter" in result.stdout
    if command:  # a description, not only -h
        assert len([line for line in result.stdout.splitlines() if line.strip()]) >= 4


def test_an_unknown_command_is_refused_in_french_with_the_nearest_names():
    result = pdn("rapports")
    assert result.returncode == 2
    assert ENGLISH.search(result.stderr) is None, result.stderr
    assert "choix invalide : « rapports »" in result.stderr
    assert "Vouliez-vous dire « rapport »" in result.stderr


def test_a_wrong_value_and_a_missing_argument_are_refused_in_french():
    wrong = pdn("rapport", "--annee", "deux-mille")
    missing = pdn("cloturer")
    for result in (wrong, missing):
        assert result.returncode == 2
        assert ENGLISH.search(result.stderr) is None, result.stderr
    assert "« deux-mille » n'est pas un nombre entier" in wrong.stderr
    assert "arguments obligatoires manquants : ANNÉE" in missing.stderr


def test_former_names_and_options_parse_to_the_same_command():
    parser = build_parser()
    french = parser.parse_args(["synchroniser", "--complet", "--accepter-baisse", "--rejouer", "X"])
    former = parser.parse_args(["sync", "--full", "--accept-drop", "--replay", "X"])
    assert (french.handler, french.full, french.accept_drop, french.replay) == (
        former.handler, former.full, former.accept_drop, former.replay,
    )
    assert parser.parse_args(["report", "--year", "2019"]).year == parser.parse_args(["rapport", "--annee", "2019"]).year
