"""Render every email a client's rules may send, for a made-up customer, before acting.

Used by ``winback check`` (the ``templates`` line) and at the start of each client's
``winback run``: a merchant's template override with a syntax error, a missing include, an
undefined filter or a runaway loop becomes one line naming the rule and the template, before any
discount code is created or email sent, instead of one failure per customer. Rendering is bounded
in time and size by :mod:`winback.notify.templates`, so one client's template cannot stall a run
over many clients.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from winback.config import EmailSection
from winback.display import printable
from winback.errors import WinbackError
from winback.rules.base import Rule, RuleContext, Step, StoreFacts
from winback.rules.compose import compose_email, postal_address_problem
from winback.sync import LocalStore


def email_problems(
    rules: Sequence[Rule], facts: StoreFacts, settings: EmailSection, now: datetime, *,
    require_postal_address: bool = True,
) -> tuple[list[str], int]:
    """(problems, emails rendered): one problem line per rule whose sample email cannot be built."""
    # Samples never read the store: they are built from the made-up buyer alone.
    context = RuleContext(store=cast(LocalStore, None), facts=facts, now=now, capabilities=None)
    problems: list[str] = []
    rendered = 0
    for rule in rules:
        try:
            actions = rule.sample_actions(context)
        except Exception as exc:  # noqa: BLE001 - a plugin rule's bug is this client's problem
            problems.append(f"rule {rule.name}: could not build a sample action ({type(exc).__name__}: {exc})")
            continue
        for action in actions:
            if Step.SEND_EMAIL not in action.steps:
                continue
            missing = postal_address_problem(action, facts, settings) if require_postal_address else None
            if missing is not None:
                problems.append(f"rule {rule.name}: {missing}")
                continue
            try:
                compose_email(action, facts, _refs(action.payload), settings, now)
            except WinbackError as exc:
                problems.append(f"rule {rule.name}: {printable(exc)}")
            except Exception as exc:  # noqa: BLE001
                problems.append(f"rule {rule.name}: unexpected {type(exc).__name__}: {printable(exc)}")
            else:
                rendered += 1
    return problems, rendered


def _refs(payload: Any) -> dict[str, Any]:
    discount = payload.get("discount") if hasattr(payload, "get") else None
    if isinstance(discount, dict) and discount.get("code"):
        return {"discount_code": str(discount["code"])}
    return {}
