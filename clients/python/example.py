#!/usr/bin/python3
"""Weft from Python: start the pipeline, watch it, read its result; send an event to a slow run
and cancel it. Run against a journal serving the pipeline example app:

    /usr/bin/python3 clients/python/example.py --url 127.0.0.1:7233
"""

import argparse
import os
import sys

from weft_client import WeftClient, WeftError, WorkflowFailed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("WEFT_URL", "127.0.0.1:7233"), help="journal host:port")
    opts = parser.parse_args()
    target = opts.url.split("://", 1)[-1].rstrip("/")

    with WeftClient(target) as weft:
        print(f"journal {target}: {weft.health()}")

        run, existing = weft.start("pipeline", {"id": 1, "text": "hello from python", "stepMs": 50})
        print(f"started {run.id} ({run.workflow_name}, existing={existing})")
        for update in weft.watch(run.id, include_steps=True):
            done = sum(1 for s in update.steps if s.status != "running")
            names = ", ".join(f"{s.name}:{s.status}" for s in update.steps)
            print(f"watch: {update.status} {done}/{len(update.steps)} steps [{names}]")
        print(f"result: {weft.result(run.id, timeout=60)}")

        slow, _ = weft.start("pipeline", {"id": 2, "text": "never finished", "stepMs": 60000})
        print(f"started {slow.id} (slow)")
        event_id, delivered = weft.send_event(slow.id, "approve", {"ok": True})
        print(f"event {event_id} delivered={delivered}")
        canceled = weft.cancel(slow.id, reason="canceled by example")
        print(f"canceled {canceled.id}: {canceled.status} ({canceled.error['message']})")
        try:
            weft.result(slow.id, timeout=30)
        except WorkflowFailed as err:
            print(f"result: WorkflowFailed: {err}")

        try:
            weft.get("00000000-0000-4000-8000-000000000000")
        except WeftError as err:
            print(f"get unknown run: {err.code.name} {err.details}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
