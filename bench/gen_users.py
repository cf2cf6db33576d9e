#!/usr/bin/env python3
"""Deterministic user export for the benchmarks (same header and shape as
the mock API's /export/csv, quoted fields with commas), written fast.

  gen_users.py ROWS OUT.csv [--changed] [--wide] [--ascending-keys]

Keys are random UUIDs, so the rows are in no particular key order, as in
most real exports; --ascending-keys gives usr_00000001, usr_00000002, ...
in export order instead.  Row i has the same key in every file.

--changed writes the same rows with every row changed (name and updatedAt),
for the sync benchmark's "every row changed" case.  --wide makes rows about
197 bytes instead of 163 (a suite number in the address, microseconds in
the timestamps, a longer mail domain), nearer the issue's 204 MB per
million rows.
"""
import datetime
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test"))
from mock_api import CITIES, COMPANIES, FIRST, JOBS, LAST, STREETS, uuid_id  # noqa: E402


def csv_quoted(value):
    """value as a CSV field, quoted if it must be."""
    if any(c in value for c in ',"\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


# the mock's words, quoted once here rather than on every row
COMPANIES = [csv_quoted(c) for c in COMPANIES]
JOBS = [csv_quoted(j) for j in JOBS]
EPOCH = datetime.datetime(2024, 12, 1, 10, 15, 30)


def main():
    rows, out = int(sys.argv[1]), sys.argv[2]
    changed = "--changed" in sys.argv
    wide = "--wide" in sys.argv
    key = (lambda i: f"usr_{i:08d}") if "--ascending-keys" in sys.argv else (lambda i: uuid_id(i, 0))
    time_format = "%Y-%m-%dT%H:%M:%S.123456Z" if wide else "%Y-%m-%dT%H:%M:%SZ"
    domain = "mail.example-corp.com" if wide else "example.com"
    rnd = random.Random(42)
    day = datetime.timedelta(days=1 if changed else 0)
    with open(out, "w", buffering=1 << 20) as f:
        f.write("id,name,email,address,company,job,updatedAt,createdAt\n")
        lines = []
        for i in range(1, rows + 1):
            first, last = FIRST[rnd.randrange(16)], LAST[rnd.randrange(14)]
            name = f"{first} {last} v2" if changed else f"{first} {last}"
            street = f"{rnd.randrange(1, 9999)} {STREETS[rnd.randrange(6)]}"
            if wide:
                street += f" Suite {rnd.randrange(100, 999)}"
            address = f'"{street}, {CITIES[rnd.randrange(5)]}"'
            updated = (EPOCH + datetime.timedelta(seconds=37 * i) + day).strftime(time_format)
            created = (EPOCH - datetime.timedelta(days=400, seconds=-11 * i)).strftime(time_format)
            lines.append(f"{key(i)},{name},{first.lower()}.{last.lower()}{i}@{domain},"
                         f"{address},{COMPANIES[rnd.randrange(8)]},{JOBS[rnd.randrange(7)]},"
                         f"{updated},{created}\n")
            if len(lines) == 10000:
                f.write("".join(lines))
                lines = []
        f.write("".join(lines))


if __name__ == "__main__":
    main()
