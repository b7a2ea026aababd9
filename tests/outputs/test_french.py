"""French formatting: typography of the text, and times on the network's clock (Paris), whatever the server's."""

from __future__ import annotations

from flows.outputs.french import NBSP, NNBSP, format_date, french_spaces, french_typography


def test_times_are_shown_in_paris_time_whatever_the_server_clock():
    assert format_date("2026-12-04T13:21:00+00:00") == "04/12/2026 à 14:21"  # winter: UTC+1
    assert format_date("2019-06-30T12:00:00+00:00") == "30/06/2019 à 14:00"  # summer: UTC+2


def test_thin_no_break_spaces_go_before_double_punctuation_and_inside_guillemets():
    assert french_spaces("Contact : « Bonjour » ; prêt ? oui !") == (
        f"Contact{NNBSP}: «{NNBSP}Bonjour{NNBSP}»{NNBSP}; prêt{NNBSP}? oui{NNBSP}!"
    )
    assert french_spaces("«Bonjour»") == f"«{NNBSP}Bonjour»"
    assert french_spaces("à 14:21, http://x") == "à 14:21, http://x", "a colon inside a word is left alone"


def test_a_number_stays_with_its_word_or_unit():
    assert french_spaces("9 ateliers, 41 % et 2 jours") == f"9{NBSP}ateliers, 41{NBSP}% et 2{NBSP}jours"


def test_typography_touches_text_never_tags_styles_or_attributes():
    page = '<p title="a : b">Note : 3 ateliers</p><style>a { b: c; }</style><svg><text>x : 1</text></svg>'
    assert french_typography(page) == (
        f'<p title="a : b">Note{NNBSP}: 3{NBSP}ateliers</p><style>a {{ b: c; }}</style><svg><text>x{NNBSP}: 1</text></svg>'
    )


def test_an_email_is_kept_on_one_line():
    assert french_typography("<p>Écrire à coordination@promeneurs-exemple.fr.</p>") == (
        '<p>Écrire à <span class="courriel">coordination@promeneurs-exemple.fr</span>.</p>'
    )


def test_a_figure_in_its_own_tag_stays_with_the_word_after_it():
    page = '<p><strong><span class="chiffre">9</span> ateliers</strong> et <b>2019</b> : bilan</p>'
    assert french_typography(page) == (
        f'<p><strong><span class="chiffre">9</span>{NBSP}ateliers</strong> et <b>2019</b>{NNBSP}: bilan</p>'
    )
