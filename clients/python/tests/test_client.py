"""Runs the Python client against a real `hotcold serve` started by the Go
harness (clients/clients_test.go), which passes it in HOTCOLD_TEST_*
variables and stops, starts, pauses or resumes it on request through
HOTCOLD_TEST_CONTROL.

The table "users" (key user_id int64) holds ids 1..100 (see user_row). The
job of HOTCOLD_TEST_TOKEN may read "users" and HOTCOLD_TEST_MISSING_TABLE
(never loaded); the job of HOTCOLD_TEST_OTHER_TOKEN may read only
HOTCOLD_TEST_DENIED_TABLE ("secrets", ids 1..3). HOTCOLD_TEST_COMPOSITE_TABLE
("orders") has the key (region string, order_no int32), regions eu and us,
order_no 1..5, and total order_no*10 (eu) or order_no*100 (us).
"""

import datetime
import decimal
import numbers
import os
import threading
import unittest
import urllib.request

import grpc

from hotcold_client import HotcoldError, LookupClient

UTC = datetime.timezone.utc


def env(name):
    v = os.environ.get(name)
    if not v:
        raise RuntimeError(f"{name} is not set: run these tests through `go test ./clients -run TestPythonClient`")
    return v


def setUpModule():
    global TCP, UNIX, TOKEN, OTHER_TOKEN, TABLE, DENIED, MISSING, COMPOSITE, VERSION, CONTROL
    TCP = env("HOTCOLD_TEST_TCP")
    UNIX = env("HOTCOLD_TEST_UNIX")
    TOKEN = env("HOTCOLD_TEST_TOKEN")
    OTHER_TOKEN = env("HOTCOLD_TEST_OTHER_TOKEN")
    TABLE = env("HOTCOLD_TEST_TABLE")
    DENIED = env("HOTCOLD_TEST_DENIED_TABLE")
    MISSING = env("HOTCOLD_TEST_MISSING_TABLE")
    COMPOSITE = env("HOTCOLD_TEST_COMPOSITE_TABLE")
    VERSION = env("HOTCOLD_TEST_VERSION")
    CONTROL = env("HOTCOLD_TEST_CONTROL")


def user_row(i):
    """The expected values of user i, in column order (see the Go harness)."""
    return (
        i,
        f"user-{i}",
        i * 1.5,
        i % 2 == 0,
        datetime.date(1970, 1, 1) + datetime.timedelta(days=10000 + i),
        datetime.datetime.fromtimestamp(1_700_000_000, UTC) + datetime.timedelta(microseconds=i),
        datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=1_700_000_000, milliseconds=i),
        decimal.Decimal(f"{i}.25"),
        bytes([i, i + 1]),
        f"nick-{i}" if i % 2 == 0 else None,
        i % 7,
        i * 0.25,
    )


def control(action):
    """Asks the harness to stop, start, pause or resume the sidecar; returns when done."""
    req = urllib.request.Request(f"{CONTROL}/{action}", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=120) as resp:
        if resp.status != 200:
            raise AssertionError(f"harness control {action}: HTTP {resp.status}")


class LookupClientTest(unittest.TestCase):
    def setUp(self):
        self.client = LookupClient(TCP, token=TOKEN)
        self.addCleanup(self.client.close)

    def assertCode(self, code, fn, *args):
        with self.assertRaises(HotcoldError) as cm:
            fn(*args)
        self.assertEqual(cm.exception.code, code, str(cm.exception))
        return cm.exception

    def test_found_key_returns_typed_row(self):
        row = self.client.lookup(TABLE, 42)
        self.assertIsNotNone(row)
        self.assertEqual(row.table, TABLE)
        self.assertEqual(row.version, VERSION)
        self.assertEqual(row.as_tuple(), user_row(42))
        self.assertEqual(row["name"], "user-42")
        self.assertEqual(row["signup"], datetime.datetime.fromtimestamp(1_700_000_000, UTC) + datetime.timedelta(microseconds=42))
        self.assertIsNotNone(row["signup"].tzinfo)
        self.assertIsNone(row["last_login"].tzinfo)
        self.assertEqual(row["balance"], decimal.Decimal("42.25"))
        self.assertEqual(
            list(row),
            ["user_id", "name", "score", "active", "born", "signup", "last_login", "balance", "avatar", "nickname", "level", "ratio"],
        )
        self.assertEqual(dict(row)["avatar"], b"\x2a\x2b")

    def test_null_column_is_none(self):
        row = self.client.lookup(TABLE, 7)
        self.assertIn("nickname", row)
        self.assertIsNone(row["nickname"])

    def test_unknown_column_is_key_error(self):
        row = self.client.lookup(TABLE, 7)
        with self.assertRaises(KeyError):
            row["no_such_column"]

    def test_missing_key_is_none(self):
        self.assertIsNone(self.client.lookup(TABLE, 100_000))

    def test_composite_keys_take_their_values_in_key_order(self):
        row = self.client.lookup(COMPOSITE, "eu", 3)
        self.assertEqual(dict(row), {"region": "eu", "order_no": 3, "total": 30.0})
        res = self.client.batch_lookup(COMPOSITE, [("us", 5), ("eu", 99), ["eu", 1]])
        self.assertEqual([r.found for r in res], [True, False, True])
        self.assertEqual([r.row["total"] for r in res if r.found], [500.0, 10.0])
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.client.lookup, COMPOSITE, "eu")
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.client.lookup, COMPOSITE, 3, "eu")

    def test_batch_results_are_in_request_order_with_missing_keys(self):
        keys = [5, 99_999, 1, (42,), [100], -3]
        res = self.client.batch_lookup(TABLE, keys)
        self.assertEqual(len(res), len(keys))
        for want, r in zip([5, None, 1, 42, 100, None], res):
            self.assertEqual(r.version, VERSION)
            self.assertEqual(r.table, TABLE)
            if want is None:
                self.assertFalse(r.found)
                self.assertIsNone(r.row)
            else:
                self.assertTrue(r.found)
                self.assertEqual(r.row.as_tuple(), user_row(want))

    def test_numpy_like_integers_are_keys(self):
        # numpy registers its integer types as numbers.Integral, and pandas
        # UDFs pass Series of them: any Integral is an int64 key value.
        class NumpyLikeInt:
            def __init__(self, v):
                self.v = v

            def __int__(self):
                return self.v

        numbers.Integral.register(NumpyLikeInt)
        self.assertEqual(self.client.lookup(TABLE, NumpyLikeInt(5))["name"], "user-5")
        res = self.client.batch_lookup(TABLE, [NumpyLikeInt(6), NumpyLikeInt(600)])
        self.assertEqual([r.found for r in res], [True, False])

    def test_batch_larger_than_max_batch_is_split_and_keeps_order(self):
        with LookupClient(TCP, token=TOKEN, max_batch=7) as c:
            keys = [k for i in range(60, 0, -3) for k in (i, 1000 + i)]
            res = c.batch_lookup(TABLE, keys)
            self.assertEqual([r.found for r in res], [k < 1000 for k in keys])
            self.assertEqual([r.row["name"] for r in res if r.found], [f"user-{k}" for k in keys if k < 1000])

    def test_empty_batch_is_empty(self):
        self.assertEqual(self.client.batch_lookup(TABLE, []), [])

    def test_describe_table(self):
        t = self.client.describe_table(TABLE)
        self.assertEqual((t.name, t.version, t.row_count, t.key), (TABLE, VERSION, 100, ("user_id",)))
        self.assertEqual((t.columns[5].name, t.columns[5].type), ("signup", "timestamp[us, UTC]"))
        self.assertTrue(t.columns[5].zoned_timestamp)
        self.assertTrue(t.columns[9].nullable)
        self.assertFalse(t.columns[6].zoned_timestamp)

    def test_wrong_token_is_unauthenticated(self):
        with LookupClient(TCP, token="not-a-token") as c:
            self.assertCode(grpc.StatusCode.UNAUTHENTICATED, c.lookup, TABLE, 1)
            self.assertCode(grpc.StatusCode.UNAUTHENTICATED, c.batch_lookup, TABLE, [1])
        with LookupClient(TCP) as c:
            self.assertCode(grpc.StatusCode.UNAUTHENTICATED, c.lookup, TABLE, 1)

    def test_table_not_granted_is_permission_denied(self):
        self.assertCode(grpc.StatusCode.PERMISSION_DENIED, self.client.lookup, DENIED, 1)
        with LookupClient(TCP, token=OTHER_TOKEN) as c:
            self.assertCode(grpc.StatusCode.PERMISSION_DENIED, c.lookup, TABLE, 1)
            self.assertCode(grpc.StatusCode.PERMISSION_DENIED, c.batch_lookup, TABLE, [1, 2])
            self.assertEqual(c.lookup(DENIED, 1)["secret"], "top secret 1")

    def test_granted_table_never_loaded_is_not_found(self):
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.client.lookup, MISSING, 1)

    def test_wrong_key_is_invalid_argument(self):
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.client.lookup, TABLE, "seven")
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.client.lookup, TABLE, 1, 2)
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.client.lookup, TABLE, None)
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.client.lookup, TABLE, object())
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.client.lookup, TABLE)
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.client.lookup, "", 1)
        e = self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.client.batch_lookup, TABLE, [1, None])
        self.assertIn("keys[1]", str(e))

    def test_deadline_passed_before_sending_is_deadline_exceeded(self):
        with LookupClient(TCP, token=TOKEN, deadline=1e-9) as c:
            self.assertCode(grpc.StatusCode.DEADLINE_EXCEEDED, c.lookup, TABLE, 1)

    def test_unanswered_call_is_deadline_exceeded(self):
        with LookupClient(TCP, token=TOKEN, deadline=1.0) as c:
            self.assertEqual(c.lookup(TABLE, 1)["name"], "user-1")  # connected, schema known
            control("pause")  # the sidecar process is stopped (SIGSTOP): nothing answers
            try:
                self.assertCode(grpc.StatusCode.DEADLINE_EXCEEDED, c.lookup, TABLE, 2)
                self.assertCode(grpc.StatusCode.DEADLINE_EXCEEDED, c.batch_lookup, TABLE, [3])
            finally:
                control("resume")
            self.assertEqual(c.lookup(TABLE, 4)["name"], "user-4")

    def test_unix_socket(self):
        with LookupClient(unix_socket=UNIX, token=TOKEN) as c:
            self.assertEqual(c.transport, "unix")
            self.assertEqual(c.target, "unix:" + UNIX)
            self.assertEqual(c.lookup(TABLE, 9).as_tuple(), user_row(9))
            self.assertEqual([r.found for r in c.batch_lookup(TABLE, [1, 1000, 3])], [True, False, True])
            self.assertCode(grpc.StatusCode.PERMISSION_DENIED, c.lookup, DENIED, 1)

    def test_invalid_settings_are_all_reported(self):
        with self.assertRaises(ValueError) as cm:
            LookupClient(deadline=0, max_batch=0, token="a\nb")
        for want in ("target", "deadline", "max_batch", "token"):
            self.assertIn(want, str(cm.exception))

    def test_calls_after_close_are_cancelled(self):
        c = LookupClient(TCP, token=TOKEN)
        c.close()
        c.close()
        self.assertCode(grpc.StatusCode.CANCELLED, c.lookup, TABLE, 1)

    def test_client_recovers_from_sidecar_restart_in_the_middle(self):
        c = LookupClient(TCP, token=TOKEN, deadline=60, max_retries=1000, initial_backoff=0.01, max_backoff=0.2)
        self.addCleanup(c.close)
        self.assertEqual(c.lookup(TABLE, 1)["name"], "user-1")

        control("stop")  # returns once the sidecar process has exited
        with LookupClient(TCP, token=TOKEN, deadline=0.2) as down:
            with self.assertRaises(HotcoldError) as cm:
                down.lookup(TABLE, 1)
            self.assertIn(cm.exception.code, (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED))

        # Lookups started while the sidecar is down retry until it is back.
        results, errors = {}, []

        def look(i):
            try:
                results[i] = c.lookup(TABLE, i)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=look, args=(i,)) for i in (10, 20, 30)]
        for t in threads:
            t.start()
        control("start")  # returns once the new sidecar answers health checks
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for i in (10, 20, 30):
            self.assertEqual(results[i].as_tuple(), user_row(i))
        self.assertEqual(c.lookup(TABLE, 50)["name"], "user-50")
        self.assertEqual(self.client.lookup(TABLE, 51)["name"], "user-51")


if __name__ == "__main__":
    unittest.main()
