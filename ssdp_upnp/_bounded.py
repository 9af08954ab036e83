"""
Whole numbers in a range, from text: the one parser behind every numeric
option (twistd, the command line) and every number a peer or a router sends.

Only ASCII digits are taken (no sign, space, underscore or other script's
digits, all of which C{int()} would accept), and at most ten of them, so a
hostile value never costs a long conversion.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import ConfigurationError

MAX_DIGITS = 10


class NotAWholeNumber(ValueError):
    """The text is not 1 to 10 ASCII digits."""


def bounded_int(text: str, low: int, high: int) -> int:
    """
    C{text} as a whole number in C{low..high}.

    @raise NotAWholeNumber: it is not one (a C{ValueError}).
    @raise ValueError: it is one, but not in LOW..HIGH.
    """
    if not (0 < len(text) <= MAX_DIGITS and text.isascii() and text.isdigit()):
        raise NotAWholeNumber("not a whole number")
    number = int(text)
    if not low <= number <= high:
        raise ValueError(f"not in {low}..{high}")
    return number


def int_option(name: str, low: int, high: int) -> Callable[[str], int]:
    """
    A converter for the option C{name} (C{"--port"}) that takes a whole number
    in C{low..high}.

    @return: a function of the text that raises L{ConfigurationError}
        ("--port must be in 1..65535, not 0") for anything else.
    """

    def convert(text: str) -> int:
        try:
            return bounded_int(text.strip(), low, high)
        except NotAWholeNumber:
            raise ConfigurationError(f"{name} must be a whole number, not {text!r}") from None
        except ValueError:
            raise ConfigurationError(
                f"{name} must be in {low}..{high}, not {text.strip()}"
            ) from None

    convert.__name__ = name.lstrip("-").replace("-", "_")
    return convert
