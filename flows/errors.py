"""Errors the CLI turns into exit codes; their messages are French, for the coordinator."""


class PdnError(Exception):
    """Base class: `exit_code` is what `pdn` returns."""

    exit_code = 2


class InputError(PdnError):
    """A source or the configuration cannot be read as the contract says (exit 2)."""

    exit_code = 2


class GateFailed(PdnError):
    """The quality gate found a critical problem: nothing was published (exit 1)."""

    exit_code = 1


class SyncAlreadyRunning(PdnError):
    """Another sync holds the warehouse lock (exit 3)."""

    exit_code = 3
