"""Error types shared by every layer.

Every error about user input names *where* (file, field) and *what was expected*, so that a
clinician running the CLI can fix the input without reading a traceback.
"""

from __future__ import annotations

from pathlib import Path


class MusclesimError(Exception):
    """Base class of every error musclesim raises on purpose."""


class InputError(MusclesimError, ValueError):
    """Bad input: a malformed file, a missing or unknown name, a value out of range.

    The message reads ``<path>: <field>: <problem> (expected <expected>)``, each part present
    only when given.
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str | Path | None = None,
        field: str | None = None,
        expected: str | None = None,
    ):
        self.problem = problem
        self.path = None if path is None else str(path)
        self.field = field
        self.expected = expected
        parts = []
        if self.path is not None:
            parts.append(self.path)
        if field is not None:
            parts.append(field)
        parts.append(problem)
        message = ": ".join(parts)
        if expected is not None:
            message += f" (expected {expected})"
        super().__init__(message)


class OutOfDomainError(InputError):
    """A value lies outside the domain on which a fitted model or a curve is valid."""


class OpenSimMissingError(MusclesimError, ImportError):
    """A feature needs OpenSim (``pip install 'musclesim[opensim]'``) and it is not installed."""

    def __init__(self, feature: str):
        super().__init__(
            f"{feature} needs OpenSim 4.6; install it with `pip install opensim==4.6` "
            "or `pip install -e '.[opensim]'`"
        )
