"""Read a destination's recipients: a text file of phone numbers, checked and normalised.

One number a line, E.164 with or without ``+`` (spaces, dashes and brackets are dropped);
``#`` starts a comment and blank lines are skipped. Every bad line is reported at once, as
FILE:LINE and the problem; a number written twice is kept once, with a warning naming both
lines.
"""

from poster.recipients.listfile import Recipients, load_recipients, parse_recipients

__all__ = ["Recipients", "load_recipients", "parse_recipients"]
