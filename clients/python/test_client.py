#!/usr/bin/python3
"""Tests of weft_client against a running journal serving the pipeline example app:

    WEFT_URL=127.0.0.1:7233 /usr/bin/python3 clients/python/test_client.py -v
"""

import os
import sys
import unittest
import uuid

import grpc

from weft_client import WeftClient, WeftError, WorkflowFailed, decode_payload, encode_payload

TARGET = os.environ.get("WEFT_URL", "127.0.0.1:7233").split("://", 1)[-1].rstrip("/")


class PayloadTest(unittest.TestCase):
    def test_json_round_trip(self):
        self.assertEqual(encode_payload({"a": [1, "b"]}), b'{"a":[1,"b"]}')
        self.assertEqual(encode_payload(None), b"")
        self.assertIsNone(decode_payload(b""))
        self.assertEqual(decode_payload(b'"x"'), "x")


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.weft = WeftClient(TARGET)

    @classmethod
    def tearDownClass(cls):
        cls.weft.close()

    def test_health(self):
        self.assertEqual(self.weft.health(), "SERVING")

    def test_start_watch_result_history_list(self):
        key = f"py-{uuid.uuid4()}"
        run, existing = self.weft.start("pipeline", {"id": 3, "text": "a bb ccc"}, idempotency_key=key)
        self.assertFalse(existing)
        self.assertEqual(run.args, {"id": 3, "text": "a bb ccc"})
        again, existing = self.weft.start("pipeline", {"id": 3, "text": "a bb ccc"}, idempotency_key=key)
        self.assertTrue(existing)
        self.assertEqual(again.id, run.id)

        updates = list(self.weft.watch(run.id, include_steps=True))
        self.assertEqual(updates[-1].status, "completed")
        self.assertEqual(updates[-1].result, "#3: 3 words, 6 letters")
        self.assertEqual(self.weft.result(run.id, timeout=30), "#3: 3 words, 6 letters")
        # Only the final state: one message.
        self.assertEqual([u.status for u in self.weft.watch(run.id, final_only=True)], ["completed"])

        full, events = self.weft.history(run.id)
        self.assertEqual([s.name for s in full.steps], ["extract", "analyzeA", "analyzeB", "summarize"])
        self.assertTrue(all(s.status == "completed" for s in full.steps))
        self.assertEqual(events, [])

        runs, _ = self.weft.list(workflow="pipeline", statuses=["completed"], page_size=100)
        self.assertIn(run.id, [r.id for r in runs])

    def test_start_many(self):
        started = self.weft.start_many([{"workflow": "pipeline", "args": {"id": i, "text": "x y"}} for i in range(3)])
        self.assertEqual([run.args["id"] for run, _ in started], [0, 1, 2])
        self.assertEqual(len({run.id for run, _ in started}), 3)
        self.assertFalse(any(existing for _, existing in started))
        self.assertEqual(self.weft.result(started[2][0].id, timeout=30), "#2: 2 words, 2 letters")
        with self.assertRaises(WeftError) as ctx:
            self.weft.start_many([{"workflow": "pipeline"}, {"workflow": "nope"}])
        self.assertEqual(ctx.exception.code, grpc.StatusCode.NOT_FOUND)
        self.assertIn("starts[1].workflow_name", ctx.exception.details)

    def test_event_and_cancel(self):
        run, _ = self.weft.start("pipeline", {"id": 4, "text": "slow", "stepMs": 60000})
        event_id, delivered = self.weft.send_event(run.id, "approve", {"ok": True})
        self.assertTrue(event_id)
        self.assertFalse(delivered)
        _, events = self.weft.history(run.id)
        self.assertEqual(events[0]["payload"], {"ok": True})
        canceled = self.weft.cancel(run.id, reason="py test")
        self.assertEqual((canceled.status, canceled.error["message"]), ("canceled", "py test"))
        with self.assertRaises(WorkflowFailed) as ctx:
            self.weft.result(run.id, timeout=30)
        self.assertEqual(ctx.exception.run.status, "canceled")

    def test_errors_carry_grpc_codes(self):
        with self.assertRaises(WeftError) as ctx:
            self.weft.send_event(str(uuid.uuid4()), "approve")
        self.assertEqual(ctx.exception.code, grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(WeftError) as ctx:
            self.weft.get("not-a-uuid")
        self.assertEqual(ctx.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("run_id", ctx.exception.details)
        with self.assertRaises(WeftError) as ctx:
            list(self.weft.watch(str(uuid.uuid4())))
        self.assertEqual(ctx.exception.code, grpc.StatusCode.NOT_FOUND)


if __name__ == "__main__":
    sys.exit(unittest.main())
