"""Holdouts: a stable random share of a rule's would-be recipients gets nothing, as a control group.

Whether an action is held out depends only on what identifies the intent — the store, the rule,
the customer's address and the lapse (the action's idempotency key, which each rule derives from
the lapse it reminds of) — hashed with SHA-256. So the assignment is the same on every run, on
every machine, whatever order the audience comes in, and a customer held out for one lapse is
drawn afresh for the next one. A held-out action passes the same guard rails as a sent one
(consent, suppression, quiet hours, caps) before it is drawn: the control group is made of
customers who would really have been sent the message, so the two groups compare like with like.

Sequences (:mod:`winback.rules.sequences`) are drawn once, at their first step, as mature email
tools do with a flow's control group: a customer held out there gets no step of that lapse's
sequence (the held-out first step ends it), and a customer sent the first step is never drawn
again mid-sequence. So the lift of the whole sequence is measured from its entry.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from winback.model import normalize_email
from winback.rules.base import PlannedAction

MAX_HOLDOUT = 0.5
"""Above half, the "control" is the treatment: refuse such a setting."""

HELD_OUT_REASON = "held out as control group (no message, no code)"


def holdout_draw(store_key: str, rule: str, email: str, lapse: str) -> float:
    """A number in [0, 1) fixed by its inputs: the first 8 bytes of a SHA-256 over them."""
    text = "\x1f".join((store_key, rule, normalize_email(email) or "", lapse))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def is_held_out(action: PlannedAction, share: float) -> bool:
    """True when ``action`` falls in its rule's holdout of size ``share`` (0 never does)."""
    if share <= 0:
        return False
    if action.sequence is not None and action.sequence.index > 0:
        return False  # drawn at the sequence's first step
    return holdout_draw(action.store_key, action.rule, action.email, action.idempotency_key) < share


def as_held_out(action: PlannedAction) -> PlannedAction:
    """The action as the ledger records a held-out customer: no steps, no payload to act on."""
    return replace(action, steps=(), payload={}, holdout=True, reason=f"{HELD_OUT_REASON}: {action.reason}")
