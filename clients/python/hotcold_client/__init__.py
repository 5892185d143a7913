"""A Python client of the hotcold lookup sidecar, for PyFlink UDFs and
other Python callers.

    from hotcold_client import LookupClient

    with LookupClient("127.0.0.1:7070", token=os.environ["HOTCOLD_TOKEN"]) as client:
        row = client.lookup("users", 42)            # a Row (a mapping), or None
        name = row["name"] if row else None
        results = client.batch_lookup("users", [1, 2, 3])   # one per key, in order
        found = [r.row["name"] for r in results if r.found]

Use ``unix_socket="/run/hotcold/hotcold.sock"`` instead of a target to talk
over the sidecar's unix socket. Every call has a deadline (5 s by default)
and retries UNAVAILABLE with backoff; failures raise HotcoldError with the
gRPC status code. Rows are typed (int, str, float, bool, bytes, date,
datetime, Decimal, None).
"""

from hotcold_client.client import Column, HotcoldError, LookupClient, LookupResult, Row, TableInfo

__all__ = ["LookupClient", "HotcoldError", "Row", "LookupResult", "TableInfo", "Column"]
