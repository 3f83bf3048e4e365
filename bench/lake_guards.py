"""What the lake's guards cost: the newest-commit check on every append, the vacuum-proof query.

Peers in the same run, on the same data in a temporary local lake:

- appends: ``Lake.append`` (which refuses to write on top of an empty or garbled newest commit,
  so reads that commit file once per new version) against ``deltalake.write_deltalake`` onto a
  cached ``DeltaTable`` handle, then ``update_incremental`` (what ``Lake.append`` did before);
- queries: ``modax.connect().sql(q).fetchall()`` (a ``LakeResult`` that refreshes and runs again
  if a snapshot file was vacuumed) against the same query on a bare DuckDB connection over the
  same Arrow dataset (a table of ten appends);
- ``Lake.check`` of the table afterwards (every commit read and parsed, every data file listed).

    .venv/bin/python bench/lake_guards.py                  # 3 x 300 appends, 3 x 2,000 queries
    .venv/bin/python bench/lake_guards.py --appends 50     # a quicker one

Each side runs ``--rounds`` times, alternating, and the best round counts. The last line is one
JSON object: milliseconds per append and per query for ours and the peer,
``append_ratio`` and ``query_ratio`` (ours over the peer: 1.0 = free), the newest-commit check
alone (the part of an append that is new), and the seconds of a whole ``Lake.check``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from rich.console import Console

import modax
from modax.lake import Lake, arrow_filesystem
from modax.lake._log import commit_problem

console = Console(stderr=True)
QUERY = "select count(*), max(value) from queried where batch % 7 = 3"


def batch(k: int, rows: int) -> pa.Table:
    """Rows of one append, with their ``date`` partition (so both writers write the same)."""
    day = datetime(2026, 1, 1, tzinfo=UTC)
    return pa.table(
        {
            "ts": pa.array([day] * rows, pa.timestamp("ms", tz="UTC")),
            "batch": [k] * rows,
            "value": pa.array(range(rows), pa.float64()),
            "date": pa.array([day.date()] * rows, pa.date32()),
        }
    )


def per_call_ms(calls: int, action: Callable[[int], object]) -> float:
    start = time.perf_counter()
    for k in range(calls):
        action(k)
    return (time.perf_counter() - start) / calls * 1000


def best_alternating(
    rounds: int, calls: int, peer: Callable[[int], object], ours: Callable[[int], object]
) -> tuple[float, float]:
    """Best milliseconds per call of the peer and of ours, over rounds that alternate them."""
    peer_ms, our_ms = [], []
    for _ in range(rounds):
        peer_ms.append(per_call_ms(calls, peer))
        our_ms.append(per_call_ms(calls, ours))
    return min(peer_ms), min(our_ms)


def peer_append(table: DeltaTable, data: pa.Table) -> int:
    write_deltalake(table, data, mode="append", partition_by=["date"])
    table.update_incremental()
    return table.version()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=300, help="appends per writer")
    parser.add_argument("--rows", type=int, default=1000, help="rows per append")
    parser.add_argument("--queries", type=int, default=2000, help="queries per reader")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        ours = Lake(f"{root}/ours")
        ours.append("readings", batch(-1, args.rows))
        write_deltalake(f"{root}/peer/readings", batch(-1, args.rows), partition_by=["date"])
        peer = DeltaTable(f"{root}/peer/readings")
        console.log(f"{args.rounds} x {args.appends} appends each")
        peer_append_ms, our_append_ms = best_alternating(
            args.rounds,
            args.appends,
            lambda k: peer_append(peer, batch(k, args.rows)),
            lambda k: ours.append("readings", batch(k, args.rows)),
        )
        console.log(f"{args.rounds} x {args.queries} queries each")
        for k in range(10):  # a table of ten commits to query
            ours.append("queried", batch(k, args.rows))
        con = modax.connect(ours)
        bare = duckdb.connect()
        bare.register("queried", ours.dataset("queried"))
        assert con.sql(QUERY).fetchall() == bare.sql(QUERY).fetchall()
        peer_query_ms, our_query_ms = best_alternating(
            args.rounds,
            args.queries,
            lambda _: bare.sql(QUERY).fetchall(),
            lambda _: con.sql(QUERY).fetchall(),
        )

        store = arrow_filesystem(ours.root, {})
        version = ours.version("readings")
        check_newest_ms = min(
            per_call_ms(
                args.appends, lambda _: commit_problem(store, root, "readings", version, last=True)
            )
            for _ in range(args.rounds)
        )
        start = time.perf_counter()
        problems = ours.check("readings")
        check_s = time.perf_counter() - start
        assert problems == []
    print(
        json.dumps(
            {
                "appends": args.appends,
                "rows_per_append": args.rows,
                "peer_append_ms": round(peer_append_ms, 3),
                "modax_append_ms": round(our_append_ms, 3),
                "append_ratio": round(our_append_ms / peer_append_ms, 3),
                "newest_commit_check_ms": round(check_newest_ms, 4),
                "queries": args.queries,
                "peer_query_ms": round(peer_query_ms, 4),
                "modax_query_ms": round(our_query_ms, 4),
                "query_ratio": round(our_query_ms / peer_query_ms, 3),
                "check_commits": args.rounds * args.appends + 1,
                "check_s": round(check_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
