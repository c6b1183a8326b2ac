"""Is a client ready to run? Connection, access scopes, capabilities, SMTP login, database.

:func:`check_clients` returns plain structured results (:class:`ClientCheck` holding
:class:`CheckItem` objects); ``winback check`` only prints them. Every failure carries the fixes a
merchant can act on ("add the read_all_orders scope to the app: orders older than 60 days are
invisible without it"). Nothing here prints or returns a secret: texts from servers pass through
:func:`winback.secrets.redact` and the SMTP password is masked wherever it could appear.

The checklist's results live in :mod:`~winback.checks.results`; each group of lines in its own
module (:mod:`~winback.checks.store`, :mod:`~winback.checks.email`, :mod:`~winback.checks.compliance`),
and :mod:`~winback.checks.client` runs them all for one client or many.
"""

from winback.checks.client import check_client, check_clients, check_database, check_rules, check_secrets
from winback.checks.email import check_email, check_smtp, smtp_port
from winback.checks.results import CONFIG_CHECKS, CheckItem, ClientCheck, Status
from winback.checks.store import check_store, describe_capabilities

__all__ = [
    "CONFIG_CHECKS",
    "CheckItem",
    "ClientCheck",
    "Status",
    "check_client",
    "check_clients",
    "check_database",
    "check_email",
    "check_rules",
    "check_secrets",
    "check_smtp",
    "check_store",
    "describe_capabilities",
    "smtp_port",
]
