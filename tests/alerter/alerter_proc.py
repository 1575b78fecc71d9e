"""An alerter in its own process, for tests that kill it.

Run as ``python -m tests.alerter.alerter_proc GROUP SUB_ID``.

Settings come from the environment (``NEWSWATCH_*``); it serves only subscription SUB_ID and writes
``started`` on stdout once consuming.
"""

from __future__ import annotations

import asyncio
import sys

from newswatch.alerter.service import AlerterService
from newswatch.settings import load_settings


async def main(group: str, subscription_id: str) -> None:
    service = AlerterService(load_settings(), group_id=group, scope={subscription_id}.__contains__)
    await service.start()
    sys.stdout.write("started\n")
    sys.stdout.flush()
    try:
        await service.wait()
    finally:
        await service.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
