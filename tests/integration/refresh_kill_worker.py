"""A process that renews an expiring Shopify offline token and is killed (SIGKILL, by itself) at a
chosen point of the renewal, for ``test_shopify_expiring_offline_access.py``.

Usage: ``python refresh_kill_worker.py CONFIG before-save|after-save``

It loads the client's config, builds its connector with the real secrets file wrapped so that the
write of the renewed pair kills the process just before it starts, or just after it returned
(fsynced), and asks for the shop. Shopify has answered the refresh by then: this is the window
between a refresh and its save that the kill-safety of :mod:`winback.connectors.shopify.refresh`
is about. Exits by SIGKILL; exit 3 means no renewal happened.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from winback.config import SecretsFile, load_config, secrets_file_of


class KillingSecretsFile(SecretsFile):
    def __init__(self, path: Path, when: str) -> None:
        super().__init__(path)
        self.when = when

    def write(self, values: Mapping[str, str | None]) -> None:
        if self.when == "before-save":
            os.kill(os.getpid(), signal.SIGKILL)
        super().write(values)
        os.kill(os.getpid(), signal.SIGKILL)


async def main(config_path: Path, when: str) -> None:
    config = load_config(config_path)
    path = secrets_file_of(config_path)
    assert path is not None
    async with config.build_connector(secret_store=KillingSecretsFile(path, when)) as connector:
        await connector.store_info()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
    sys.exit(3)
