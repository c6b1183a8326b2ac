"""``winback demo``: the main job end to end on built-in emulators, with no credentials or network.

It starts a Shopify and an Ecwid emulator in this process (real HTTP servers on 127.0.0.1, each
with its own seeded store), syncs both through the real connectors into one SQLite file in the demo
folder, runs the sync a second time to show it is incremental, then plans and runs the three
built-in rules for both stores exactly as ``winback run`` would (discount codes and accounts are
created on the emulators, every step is recorded in the ledger) with emails going to a local
outbox, and writes an HTML index of that outbox to open in a browser.

The demo folder gets real client configs (``configs/shopify.toml``, ``configs/ecwid.toml``, their
tokens in ``*.secrets.toml`` files of mode 0600) so ``winback plan --no-connect --config ...``
and ``winback status --config ...`` work on the demo's database afterwards; the emulators stop
with the demo, so they cannot connect.

The rules run at the emulated stores' "now" (:data:`winback.emulator.generate.DEFAULT_NOW`, the
end of their seeded history), not the wall clock, so the same seed always gives the same emails.

The Shopify emulator runs with a Shopify Plus-sized cost bucket (20,000 points, 1,000 points/s) so
the demo finishes in about a minute; the connector paces itself on that bucket exactly as it would
on a live store. The first Shopify read of orders goes through a bulk export (the connector's
default for stores of 500 orders or more), as it should for a store of that size.

The run is in :mod:`~winback.demo.run`; the client configs it writes in :mod:`~winback.demo.configs`;
the reminders and report in :mod:`~winback.demo.report`; what it prints in :mod:`~winback.demo.summary`.
"""

from winback.demo.configs import DEMO_RULES
from winback.demo.run import run_demo
from winback.demo.summary import DemoStore, DemoSummary

__all__ = ["DEMO_RULES", "DemoStore", "DemoSummary", "run_demo"]
