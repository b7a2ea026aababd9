"""Compatibility shim: the Sheets emulator grew into the ``tests.google_emulator`` package; import from there."""

from tests.google_emulator import *  # noqa: F401,F403
