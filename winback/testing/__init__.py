"""A conformance kit for connector authors, as the Singer/Meltano SDK ships standard tap tests.

:class:`ConnectorContract` is a pytest base class holding the checks every connector must pass:
reads end, in pages of :mod:`winback.model` records with unique ids; cursors only move forward and
a read from any page's cursor loses nothing; a malformed record arrives as a
:class:`~winback.connectors.base.RejectedRecord` with its payload while the rest of the read
arrives; bad credentials raise :class:`~winback.errors.AuthenticationError` and everything raised is
a :class:`~winback.errors.WinbackError`; no secret reaches a log record or an error message; a
create is applied at most once, even when its answer is lost.

A connector's test suite subclasses it (the built-in connectors and ``examples/winback-hello`` do)::

    from winback.testing import ConnectorContract

    class TestHelloContract(ConnectorContract):
        def make_connector(self):
            return HelloConnector.from_settings({"greeting_store": "Contract Shop"})

The kit needs ``pytest`` and ``pytest-asyncio`` (``asyncio_mode = "auto"``); winback itself never
imports this package.
"""

from winback.testing._contract import ConnectorContract
from winback.testing._hooks import ContractHooks, Write
from winback.testing._reads import READS, Read

__all__ = ["READS", "ConnectorContract", "ContractHooks", "Read", "Write"]
