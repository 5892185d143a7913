"""The lookup client: see the package docstring."""

import datetime
import decimal
import numbers
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import grpc

try:
    from hotcold.lookup.v1 import lookup_pb2, lookup_pb2_grpc
except ImportError as _e:  # pragma: no cover - depends on the install
    raise ImportError(
        "hotcold_client: the generated stubs (hotcold.lookup.v1) are missing: "
        "pip install clients/python, or generate them with "
        "`python3 clients/python/gen_stubs.py DIR` and put DIR on PYTHONPATH"
    ) from _e

__all__ = ["LookupClient", "HotcoldError", "Row", "LookupResult", "TableInfo", "Column"]

_EPOCH_DATE = datetime.date(1970, 1, 1)
_EPOCH_NAIVE = datetime.datetime(1970, 1, 1)
_EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_INT64 = (-(1 << 63), (1 << 63) - 1)


class HotcoldError(Exception):
    """A failed call. ``code`` is the grpc.StatusCode, as documented in the
    lookup API: INVALID_ARGUMENT (bad key or table name), NOT_FOUND (no such
    table), UNAUTHENTICATED (missing or unknown token), PERMISSION_DENIED
    (table not granted to the job), RESOURCE_EXHAUSTED (rate limit),
    DEADLINE_EXCEEDED (the client's deadline passed, retries included),
    UNAVAILABLE (the sidecar could not be reached within the retries),
    CANCELLED (the client is closed). A missing key is not an error.
    """

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(f"hotcold: {code.name}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Column:
    """One column: name, type in hotcold notation ("int64",
    "timestamp[us, UTC]", "decimal128(18, 2)"...) and nullability."""

    name: str
    type: str
    nullable: bool

    @property
    def zoned_timestamp(self) -> bool:
        """Whether values are instants (aware datetimes in UTC) rather than
        wall-clock times (naive datetimes)."""
        return self.type.startswith("timestamp[") and "," in self.type


@dataclass(frozen=True)
class TableInfo:
    """The live version of a table."""

    name: str
    version: str
    columns: Tuple[Column, ...]
    key: Tuple[str, ...]
    row_count: int
    covers_until: Optional[datetime.datetime]
    loaded_at: Optional[datetime.datetime]

    def __post_init__(self):
        object.__setattr__(self, "_positions", {c.name: i for i, c in enumerate(self.columns)})

    def index(self, column: str) -> int:
        """The position of a column; KeyError when there is none."""
        return self._positions[column]


class Row(Mapping):
    """One stored row, a read-only mapping from column name to typed value.

    Types: bool, int (int32, int64), float (float32, float64), str, bytes,
    datetime.date (date32), datetime.datetime (timestamps: aware in UTC for
    zoned columns, naive for wall-clock ones), decimal.Decimal (decimal128);
    SQL NULL is None. ``row.as_tuple()`` gives the values in column order,
    ``row.version`` the table version that answered.
    """

    __slots__ = ("_info", "_values", "version")

    def __init__(self, info: TableInfo, version: str, values: Tuple[Any, ...]):
        self._info = info
        self._values = values
        self.version = version

    @property
    def table(self) -> str:
        """The table the row was read from."""
        return self._info.name

    @property
    def columns(self) -> Tuple[Column, ...]:
        """The columns of the row's table."""
        return self._info.columns

    def as_tuple(self) -> Tuple[Any, ...]:
        """The values in column order."""
        return self._values

    def __getitem__(self, column: str) -> Any:
        i = self._info.index(column)
        if i >= len(self._values):
            raise KeyError(column)
        return self._values[i]

    def __iter__(self):
        return (c.name for c in self._info.columns[: len(self._values)])

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Row({self.table}@{self.version}, {dict(self)!r})"


class LookupResult(NamedTuple):
    """The answer for one key of a batch."""

    table: str
    found: bool
    row: Optional[Row]
    version: str


class LookupClient:
    """A client of the hotcold lookup sidecar.

    Give a TCP ``target`` ("host:port") or a ``unix_socket`` path (the
    sidecar's --unix; preferred when both are given), and the job's
    ``token``. Every call has a ``deadline`` in seconds (default 5) that bounds
    it as a whole, retries included; calls failing with UNAVAILABLE (the
    sidecar restarting) are retried with exponential backoff from
    ``initial_backoff`` up to ``max_backoff`` seconds with 20% jitter, at most
    ``max_retries`` times (default 10: a sidecar restart is ridden out).
    Over TCP to a sidecar with TLS (its --tls-cert), give ``tls_ca`` (the PEM
    file of the CAs that sign its certificate; None: the system's roots, used
    as soon as any tls_* argument is given), and for mutual TLS
    (--tls-client-ca) ``tls_cert`` and ``tls_key``; ``tls_server_name``
    overrides the name checked against the certificate. The unix socket is
    always plaintext. Answers larger than ``max_receive_bytes`` (default 64 MiB,
    as the Go and Java clients) fail with RESOURCE_EXHAUSTED.
    ``batch_lookup`` sends at most ``max_batch`` keys per call (default 256;
    keep it at or below the sidecar's max_batch).

    A client is thread-safe; create it once (in a PyFlink UDF: in ``open``,
    not at import, because gRPC channels do not survive fork) and ``close``
    it, or use it as a context manager.
    """

    def __init__(
        self,
        target: Optional[str] = None,
        *,
        unix_socket: Optional[str] = None,
        token: Optional[str] = None,
        deadline: float = 5.0,
        max_retries: int = 10,
        initial_backoff: float = 0.025,
        max_backoff: float = 1.0,
        max_batch: int = 256,
        max_receive_bytes: int = 64 << 20,
        tls_ca: Optional[str] = None,
        tls_cert: Optional[str] = None,
        tls_key: Optional[str] = None,
        tls_server_name: Optional[str] = None,
        channel_options: Sequence[Tuple[str, Any]] = (),
    ):
        problems = []
        if max_receive_bytes < 1:
            problems.append(f"max_receive_bytes {max_receive_bytes}: must be positive")
        if (tls_cert is None) != (tls_key is None):
            problems.append("give both tls_cert and tls_key (the client certificate and its key, for a sidecar with --tls-client-ca), or neither")
        use_tls = not unix_socket and any(x is not None for x in (tls_ca, tls_cert, tls_key, tls_server_name))
        pems = {}
        if use_tls:
            for name, path in (("tls_ca", tls_ca), ("tls_cert", tls_cert), ("tls_key", tls_key)):
                if path is None:
                    continue
                try:
                    with open(path, "rb") as f:
                        pems[name] = f.read()
                except OSError as e:
                    problems.append(f"{name} {path}: {e.strerror}")
        if not target and not unix_socket:
            problems.append('give target="host:port" or unix_socket="/path/to/hotcold.sock"')
        if token is not None and (not token or any(ord(c) < 0x20 or ord(c) > 0x7E for c in token)):
            problems.append("token is empty or has a character that cannot be sent in a header (a newline from a token file?)")
        if not deadline > 0:
            problems.append(f"deadline {deadline!r}: must be a positive number of seconds")
        if max_retries < 0:
            problems.append(f"max_retries {max_retries}: must not be negative")
        if not initial_backoff > 0:
            problems.append(f"initial_backoff {initial_backoff!r}: must be positive")
        elif not max_backoff >= initial_backoff:
            problems.append(f"max_backoff {max_backoff!r}: must be at least initial_backoff")
        if max_batch < 1:
            problems.append(f"max_batch {max_batch}: must be positive")
        if problems:
            raise ValueError("hotcold client: " + "; ".join(problems))

        self.transport = "unix" if unix_socket else "tcp"
        self.target = "unix:" + unix_socket if unix_socket else target
        self._deadline = float(deadline)
        self._max_retries = max_retries
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._max_batch = max_batch
        self._metadata = (("authorization", "Bearer " + token),) if token is not None else ()
        options = [
            ("grpc.max_receive_message_length", max_receive_bytes),
            # Reconnect soon after a sidecar restart; the client's own
            # retries pace the attempts.
            ("grpc.initial_reconnect_backoff_ms", 50),
            ("grpc.min_reconnect_backoff_ms", 50),
            ("grpc.max_reconnect_backoff_ms", 1000),
        ]
        if unix_socket:
            options.append(("grpc.default_authority", "localhost"))
        if use_tls and tls_server_name:
            options.append(("grpc.ssl_target_name_override", tls_server_name))
        options.extend(channel_options)
        if use_tls:
            creds = grpc.ssl_channel_credentials(
                root_certificates=pems.get("tls_ca"),
                private_key=pems.get("tls_key"),
                certificate_chain=pems.get("tls_cert"),
            )
            self._channel = grpc.secure_channel(self.target, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(self.target, options=options)
        self._stub = lookup_pb2_grpc.LookupServiceStub(self._channel)
        self._closed = False
        self._lock = threading.Lock()
        self._schemas = {}  # (table, version) -> TableInfo

    # ---- lookups ----

    def lookup(self, table: str, *key: Any) -> Optional[Row]:
        """Looks up one key (its column values in key order); returns the row,
        or None when the key is not in the table. Raises HotcoldError."""
        self._check(table)
        pk = _key(table, key)
        deadline = time.monotonic() + self._deadline
        what = f"Lookup {table}"
        resp = self._call(self._stub.Lookup, lookup_pb2.LookupRequest(table=table, key=pk), what, deadline)
        if not resp.found:
            return None
        info = self._schema(table, resp.version, deadline)
        return _row(info, resp.version, resp.row)

    def batch_lookup(self, table: str, keys: Iterable[Any]) -> List[LookupResult]:
        """Looks up many keys of one table: each element is a tuple (or list)
        of key column values or, for a one-column key, the plain value. Returns one
        LookupResult per key, in request order. Keys are sent in calls of at
        most max_batch; each result says the version that answered it."""
        self._check(table)
        pks = [_key(table, tuple(k) if isinstance(k, (tuple, list)) else (k,), i) for i, k in enumerate(keys)]
        deadline = time.monotonic() + self._deadline
        what = f"BatchLookup {table}"
        out: List[LookupResult] = []
        for start in range(0, len(pks), self._max_batch):
            chunk = pks[start : start + self._max_batch]
            req = lookup_pb2.BatchLookupRequest(table=table, keys=[lookup_pb2.KeyRef(key=k) for k in chunk])
            resp = self._call(self._stub.BatchLookup, req, what, deadline)
            if len(resp.results) != len(chunk):
                raise HotcoldError(
                    grpc.StatusCode.INTERNAL,
                    f"{what}: the sidecar answered {len(chunk)} keys with {len(resp.results)} results",
                )
            info = None
            for r in resp.results:
                if r.found and info is None:
                    info = self._schema(table, r.version, deadline)
                out.append(LookupResult(table, r.found, _row(info, r.version, r.row) if r.found else None, r.version))
        return out

    # ---- tables ----

    def describe_table(self, table: str) -> TableInfo:
        """Describes a table's live version: columns, key, row count."""
        self._check(table)
        return self._describe(table, time.monotonic() + self._deadline)

    def list_tables(self) -> List[TableInfo]:
        """Describes every table the job may read."""
        self._check("-")
        resp = self._call(self._stub.ListTables, lookup_pb2.ListTablesRequest(), "ListTables", time.monotonic() + self._deadline)
        return [_table_info(t) for t in resp.tables]

    def _describe(self, table: str, deadline: float) -> TableInfo:
        resp = self._call(
            self._stub.DescribeTable, lookup_pb2.DescribeTableRequest(table=table), f"DescribeTable {table}", deadline
        )
        return _table_info(resp.table)

    def _schema(self, table: str, version: str, deadline: float) -> TableInfo:
        """The schema for rows of a table version, described once per
        version; when the live version has moved on, its schema serves the
        older version too (hotcold only appends columns)."""
        with self._lock:
            info = self._schemas.get((table, version))
        if info is not None:
            return info
        info = self._describe(table, deadline)
        with self._lock:
            if len(self._schemas) > 4096:
                self._schemas.clear()
            self._schemas.setdefault((table, info.version), info)
            return self._schemas.setdefault((table, version), info)

    # ---- calls ----

    def _call(self, method, request, what: str, deadline: float):
        attempt = 0
        while True:
            if self._closed:
                raise HotcoldError(grpc.StatusCode.CANCELLED, "the client is closed")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                when = "before it was sent" if attempt == 0 else f"after {attempt} attempts"
                raise HotcoldError(grpc.StatusCode.DEADLINE_EXCEEDED, f"{what}: the client's deadline passed {when}")
            try:
                return method(request, timeout=remaining, metadata=self._metadata)
            except ValueError:
                if self._closed:  # grpcio: "Cannot invoke RPC on closed channel!"
                    raise HotcoldError(grpc.StatusCode.CANCELLED, "the client is closed") from None
                raise
            except grpc.RpcError as e:
                code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
                details = e.details() if hasattr(e, "details") else str(e)
                if code == grpc.StatusCode.UNAVAILABLE and attempt < self._max_retries and not self._closed:
                    delay = min(self._max_backoff, self._initial_backoff * (2 ** attempt)) * random.uniform(0.8, 1.2)
                    if deadline - time.monotonic() > delay:
                        time.sleep(delay)
                        attempt += 1
                        continue
                suffix = f" (after {attempt + 1} attempts)" if attempt else ""
                raise HotcoldError(code, f"{what}{suffix}: {details}") from e

    def _check(self, table: str) -> None:
        if self._closed:
            raise HotcoldError(grpc.StatusCode.CANCELLED, "the client is closed")
        if not table:
            raise HotcoldError(grpc.StatusCode.INVALID_ARGUMENT, "table: the table name is empty")

    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled, later calls fail
        with CANCELLED. Idempotent."""
        if not self._closed:
            self._closed = True
            self._channel.close()

    def __enter__(self) -> "LookupClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---- conversions ----


def _key(table: str, values: Tuple[Any, ...], index: Optional[int] = None):
    where = f"keys[{index}]: " if index is not None else ""
    if not values:
        raise HotcoldError(grpc.StatusCode.INVALID_ARGUMENT, f"{where}table {table}: a key needs at least one value")
    out = []
    for i, v in enumerate(values):
        try:
            out.append(_to_value(v))
        except (TypeError, ValueError, OverflowError) as e:
            raise HotcoldError(grpc.StatusCode.INVALID_ARGUMENT, f"{where}table {table}: key value {i}: {e}") from None
    return lookup_pb2.Key(values=out)


def _to_value(v: Any):
    if v is None:
        raise ValueError("is None; a key value must not be null")
    if isinstance(v, lookup_pb2.Value):
        return v
    if isinstance(v, bool):
        return lookup_pb2.Value(bool_value=v)
    if isinstance(v, numbers.Integral):  # int, and numpy's integers as pandas UDFs pass them
        n = int(v)
        if not _INT64[0] <= n <= _INT64[1]:
            raise OverflowError(f"{n} does not fit int64")
        return lookup_pb2.Value(int64_value=n)
    if isinstance(v, numbers.Real) and not isinstance(v, decimal.Decimal):  # float, numpy.float64...
        return lookup_pb2.Value(double_value=float(v))
    if isinstance(v, str):
        return lookup_pb2.Value(string_value=v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return lookup_pb2.Value(bytes_value=bytes(v))
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            delta = v - _EPOCH_UTC
        else:
            delta = v - _EPOCH_NAIVE
        return lookup_pb2.Value(timestamp_micros=(delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds)
    if isinstance(v, datetime.date):
        return lookup_pb2.Value(date_value=(v - _EPOCH_DATE).days)
    if isinstance(v, decimal.Decimal):
        if not v.is_finite():
            raise ValueError(f"{v} is not a finite decimal")
        return lookup_pb2.Value(decimal_value=format(v, "f"))
    raise TypeError(
        f"has unsupported type {type(v).__name__}; use int, str, bytes, bool, float, "
        "datetime.date, datetime.datetime or decimal.Decimal"
    )


def _from_value(v, column: Optional[Column]) -> Any:
    kind = v.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind in ("bool_value", "int32_value", "int64_value", "float_value", "double_value", "string_value", "bytes_value"):
        return getattr(v, kind)
    if kind == "date_value":
        return _EPOCH_DATE + datetime.timedelta(days=v.date_value)
    if kind in ("timestamp_millis", "timestamp_micros"):
        micros = v.timestamp_millis * 1000 if kind == "timestamp_millis" else v.timestamp_micros
        epoch = _EPOCH_UTC if column is not None and column.zoned_timestamp else _EPOCH_NAIVE
        return epoch + datetime.timedelta(microseconds=micros)
    if kind == "decimal_value":
        return decimal.Decimal(v.decimal_value)
    return None


def _row(info: TableInfo, version: str, r) -> Row:
    cols = info.columns
    return Row(info, version, tuple(_from_value(v, cols[i] if i < len(cols) else None) for i, v in enumerate(r.values)))


def _time(ts) -> Optional[datetime.datetime]:
    return _EPOCH_UTC + datetime.timedelta(seconds=ts.seconds, microseconds=ts.nanos // 1000)


def _table_info(t) -> TableInfo:
    return TableInfo(
        name=t.name,
        version=t.version,
        columns=tuple(Column(c.name, c.type, c.nullable) for c in t.schema.columns),
        key=tuple(t.schema.key),
        row_count=t.row_count,
        covers_until=_time(t.covers_until) if t.HasField("covers_until") else None,
        loaded_at=_time(t.loaded_at) if t.HasField("loaded_at") else None,
    )
