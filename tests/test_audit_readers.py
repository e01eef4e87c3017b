"""How `make audit` reads sqlmap's verdict (audit/scanners.py)."""

from __future__ import annotations

from audit.scanners import read_sqlmap

#: A real run against the sign-in form: a heuristic guess, then dropped.
DROPPED_GUESS = """
[WARNING] target URL content is not stable (i.e. content differs).
[INFO] POST parameter 'email' appears to be 'AND boolean-based blind - WHERE' injectable
[WARNING] POST parameter 'email' does not seem to be injectable
[WARNING] POST parameter 'password' does not seem to be injectable
[ERROR] all tested parameters do not appear to be injectable. Try to increase values
"""

CONFIRMED = """
[INFO] GET parameter 'page' appears to be 'PostgreSQL AND boolean-based blind' injectable
GET parameter 'page' is vulnerable. Do you want to keep testing the others (if any)? [y/N] N
sqlmap identified the following injection point(s) with a total of 40 HTTP(s) requests:
"""


def test_a_guess_that_sqlmap_drops_is_not_a_finding():
    injectable, identified, clean, _ = read_sqlmap(DROPPED_GUESS)
    assert injectable == []
    assert not identified
    assert clean


def test_a_confirmed_injection_is_a_finding():
    injectable, identified, clean, _ = read_sqlmap(CONFIRMED)
    assert injectable == ["page"]
    assert identified
    assert not clean


def test_a_guess_left_standing_is_a_finding():
    injectable, _, _, _ = read_sqlmap("[INFO] GET parameter 'q' appears to be 'x' injectable\n")
    assert injectable == ["q"]
