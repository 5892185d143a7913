"""Conversions between Python values and the API's typed values (no
sidecar needed)."""

import datetime
import decimal
import unittest

import grpc

from hotcold.lookup.v1 import lookup_pb2
from hotcold_client import HotcoldError
from hotcold_client.client import Column, _from_value, _key, _to_value

UTC = datetime.timezone.utc
ZONED = Column("t", "timestamp[us, UTC]", False)
WALL = Column("t", "timestamp[ms]", False)


class ToValueTest(unittest.TestCase):
    def test_key_values_map_to_their_proto_kinds(self):
        V = lookup_pb2.Value
        self.assertEqual(_to_value(42), V(int64_value=42))
        self.assertEqual(_to_value(True), V(bool_value=True))
        self.assertEqual(_to_value(1.5), V(double_value=1.5))
        self.assertEqual(_to_value("eu"), V(string_value="eu"))
        self.assertEqual(_to_value(b"\x01"), V(bytes_value=b"\x01"))
        self.assertEqual(_to_value(bytearray(b"\x02")), V(bytes_value=b"\x02"))
        self.assertEqual(_to_value(datetime.date(1970, 1, 2)), V(date_value=1))
        self.assertEqual(_to_value(datetime.datetime(1970, 1, 1, 0, 0, 1, 1)), V(timestamp_micros=1_000_001))
        self.assertEqual(
            _to_value(datetime.datetime(1970, 1, 1, 1, 0, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))),
            V(timestamp_micros=0),
        )
        self.assertEqual(_to_value(datetime.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)), V(timestamp_micros=-1))
        self.assertEqual(_to_value(decimal.Decimal("-1234.50")), V(decimal_value="-1234.50"))
        self.assertEqual(_to_value(decimal.Decimal("1E+3")), V(decimal_value="1000"))

    def test_bad_key_values_are_invalid_argument_naming_the_value(self):
        for key, want in [
            ((1, None), "key value 1"),
            ((1 << 63,), "does not fit int64"),
            ((decimal.Decimal("NaN"),), "not a finite decimal"),
            (([1],), "unsupported type list"),
            ((), "at least one value"),
        ]:
            with self.assertRaises(HotcoldError) as cm:
                _key("t", key)
            self.assertEqual(cm.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn(want, str(cm.exception))


class FromValueTest(unittest.TestCase):
    def test_timestamps_are_aware_only_for_zoned_columns(self):
        v = lookup_pb2.Value(timestamp_micros=-1)
        self.assertEqual(_from_value(v, ZONED), datetime.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
        self.assertEqual(_from_value(v, WALL), datetime.datetime(1969, 12, 31, 23, 59, 59, 999999))
        self.assertEqual(_from_value(lookup_pb2.Value(timestamp_millis=1500), None), datetime.datetime(1970, 1, 1, 0, 0, 1, 500000))

    def test_response_values_map_to_python_types(self):
        self.assertIsNone(_from_value(lookup_pb2.Value(null_value=0), None))
        self.assertIsNone(_from_value(lookup_pb2.Value(), None))
        self.assertEqual(_from_value(lookup_pb2.Value(decimal_value="-0.50"), None), decimal.Decimal("-0.50"))
        self.assertEqual(_from_value(lookup_pb2.Value(date_value=-1), None), datetime.date(1969, 12, 31))
        self.assertEqual(_from_value(lookup_pb2.Value(bytes_value=b"\x09"), None), b"\x09")
        self.assertEqual(_from_value(lookup_pb2.Value(int32_value=3), None), 3)
        self.assertEqual(_from_value(lookup_pb2.Value(float_value=0.25), None), 0.25)


if __name__ == "__main__":
    unittest.main()
