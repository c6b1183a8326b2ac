"""The rule contract: a rule reads the local store and proposes actions; it never acts itself.

A rule selects its audience with set-based SQL over the local store (never a Python loop over every
customer) and yields :class:`PlannedAction` objects. Each carries a deterministic idempotency key,
so planning the same situation twice yields the same keys, and the action ledger
(:mod:`winback.rules.ledger`) turns "at most once per intent" into a unique constraint.

The executor (:mod:`winback.rules.executor`) performs an action's :class:`Step` s in order and
records each in the ledger before and after; rules only describe them. Third-party rules register
a :class:`Rule` subclass under the ``winback.rules`` entry-point group, as the built-ins do.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from winback.connectors.base import Capabilities, Need
from winback.sync.store import LocalStore


class Step(StrEnum):
    """One side effect, in the order the executor runs them for an action."""

    CREATE_DISCOUNT_CODE = "create_discount_code"
    """Payload ``discount``: :class:`winback.model.DiscountCodeSpec` fields (JSON)."""
    CREATE_ACCOUNT = "create_account"
    """Payload ``account``: :class:`winback.model.NewCustomer` fields (JSON)."""
    SEND_INVITE = "send_invite"
    """Platform-sent account invite; payload ``customer_id``."""
    SET_CUSTOMER_TIER = "set_customer_tier"
    """Payload ``tier``: ``{"label": label or None, "labels": [every tier's label]}``; the customer
    is the action's ``customer_id``. Idempotent on the platform (read, then write what differs)."""
    SEND_EMAIL = "send_email"
    """Payload ``email``: ``{"template": name, "context": {...}}`` rendered by :mod:`winback.notify`."""


STEP_NEEDS: Mapping[Step, frozenset[Need]] = {
    # A code is looked up before it is created (at most once, adopted only if it is ours).
    Step.CREATE_DISCOUNT_CODE: frozenset({Need.CREATE_DISCOUNT_CODES, Need.READ_DISCOUNT_CODES}),
    Step.CREATE_ACCOUNT: frozenset({Need.CREATE_CUSTOMERS, Need.READ_CUSTOMERS}),
    Step.SEND_INVITE: frozenset({Need.READ_CUSTOMERS}),
    Step.SET_CUSTOMER_TIER: frozenset({Need.UPDATE_CUSTOMERS, Need.READ_CUSTOMERS}),
    Step.SEND_EMAIL: frozenset(),
}
"""What each step needs from the platform, so a rule declares only what it reads."""


class RuleOptions(BaseModel):
    """Base for a rule's options (the ``[rules.<name>]`` table of a client's config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    holdout: float = Field(default=0.0, ge=0.0, le=0.5)
    """Share of would-be recipients kept as a control group (no message, no code), 0 to 0.5;
    off by default. See :mod:`winback.rules.holdout` and ``winback report``."""


@dataclass(frozen=True, slots=True)
class StoreFacts:
    """What a rule may need to know about the store itself (for templates and links)."""

    store_key: str
    platform: str
    name: str
    currency: str
    url: str | None = None
    timezone: str | None = None
    logo_url: str | None = None
    email: str | None = None
    postal_address: str | None = None
    """The sender's postal address (config ``[store] postal_address``, else the platform's)."""


@dataclass(frozen=True, slots=True)
class RuleContext:
    """Everything a rule's planning may read. Planning has no side effects and no network."""

    store: LocalStore
    facts: StoreFacts
    now: datetime
    capabilities: Capabilities | None
    """Offline (``winback plan --no-connect``, previews) these are the platform's usual ones
    (:meth:`~winback.connectors.base.Connector.offline_capabilities`); ``None`` only when no
    connector describes the platform: rules must cope."""


@dataclass(frozen=True, slots=True)
class SequencePosition:
    """Where an action stands in its rule's sequence (see :mod:`winback.rules.sequences`).

    Recorded in the ledger (``anchor``, ``sequence_step``) so the next plan finds, in SQL, which
    step each customer has reached for the current ``anchor``.
    """

    anchor: str
    """What the sequence hangs on, e.g. the last order id of the lapse it answers."""
    index: int = 0
    """0-based step; 0 is the first message."""
    of: int = 1
    """How many steps the sequence has."""


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """One intended action for one recipient, with why.

    ``idempotency_key`` is unique per store in the ledger: a rule derives it from what makes the
    intent unique (e.g. the rule, the email and the last order's id for a reminder), never from time
    of planning.
    """

    rule: str
    idempotency_key: str
    store_key: str
    email: str
    customer_id: str | None
    recipient_name: str | None
    reason: str
    steps: tuple[Step, ...]
    marketing: bool
    """Marketing mail: needs consent, counts toward the per-customer cap and quiet hours."""
    payload: Mapping[str, Any] = field(default_factory=dict)
    """JSON-serialisable data for the steps (see :class:`Step`)."""
    holdout: bool = False
    """Held out as a control group: recorded in the ledger, nothing done (see
    :mod:`winback.rules.holdout`)."""
    sequence: SequencePosition | None = None
    """Set by rules with steps (and their one-step form): recorded so later steps can follow."""
    variant: str | None = None
    """How the rule decided (e.g. its timing), recorded for ``winback report`` to compare."""


def idempotency_key(rule: str, *parts: object) -> str:
    """A stable key from the rule name and the parts that make the intent unique.

    Readable prefix plus a hash, so keys stay short whatever the parts are (emails with odd
    characters included) and never collide across rules.
    """
    digest = hashlib.sha256("\x1f".join([rule, *map(str, parts)]).encode()).hexdigest()[:32]
    return f"{rule}:{digest}"


class Rule(abc.ABC):
    """Base class of every rule; instantiate with validated options."""

    name: ClassVar[str]
    options_model: ClassVar[type[RuleOptions]] = RuleOptions
    description: ClassVar[str] = ""
    needs: ClassVar[frozenset[Need]] = frozenset()
    """What the rule reads from the platform's data beyond orders (e.g. customers); what its
    actions' steps write is added per action (:data:`STEP_NEEDS`). The planner holds the rule's
    actions, with the connector's reason, when the credentials cannot reach one of them."""

    def needs_of(self, action: PlannedAction) -> frozenset[Need]:
        """Everything ``action`` needs: the rule's reads and its steps' writes."""
        return self.needs.union(*(STEP_NEEDS.get(step, frozenset()) for step in action.steps))

    def __init__(self, options: RuleOptions | Mapping[str, Any] | None = None) -> None:
        if options is None or isinstance(options, Mapping):
            options = self.options_model.model_validate(dict(options or {}))
        self.options = options

    @abc.abstractmethod
    def plan(self, context: RuleContext) -> Iterator[PlannedAction]:
        """Yield this rule's actions for the store, in a stable order (e.g. by email)."""

    def sample_actions(self, context: RuleContext) -> list[PlannedAction]:
        """The actions :meth:`plan` would yield for the made-up buyer of :mod:`winback.rules.samples`
        (without reading the store), so ``winback check`` and ``winback run`` can render every
        email the rule may send before acting. A rule that sends email should override this; the
        default (no samples) means its templates are only rendered when a real action runs."""
        return []
