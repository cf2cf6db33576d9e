#!/usr/bin/env python3
"""Deterministic user export for the benchmarks (the header and words of the
mock API's /export/csv), written fast.

  gen_users.py ROWS OUT.csv [--changed] [--ascending-keys] [--shape light|wide|seed]

Keys are random UUIDs, so the rows are in no particular key order, as in
most real exports; --ascending-keys gives usr_00000001, usr_00000002, ...
in export order instead.  Row i has the same key in every file.  --changed
writes the same rows with every row changed (name and updatedAt), for the
sync's "every row changed" case.

Shapes:
  light  (default) about 163 bytes a row with UUID keys: one quoted field
         with commas (the address), some with doubled quotes
  wide   about 197 bytes: a suite number, microseconds, a longer mail domain
  seed   about 204 bytes, shaped like the seed's export: several quoted
         fields with commas and doubled quotes, every seventh address on
         three lines, every eleventh with quotes inside
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


def address(rnd, i, shape):
    street = f"{rnd.randrange(1, 9999)} {STREETS[rnd.randrange(6)]}"
    city = CITIES[rnd.randrange(5)]
    if shape == "wide":
        street += f" Suite {rnd.randrange(100, 999)}"
    if shape == "seed" and i % 7 == 3:
        return csv_quoted(f"{street}\nApt {rnd.randrange(1, 99)}\n{city}")
    if shape == "seed" and i % 11 == 5:
        return csv_quoted(f'The "Old Mill", Unit {rnd.randrange(1, 40)}, {city}')
    return f'"{street}, {city}"'


def main():
    rows, out = int(sys.argv[1]), sys.argv[2]
    changed = "--changed" in sys.argv
    shape = sys.argv[sys.argv.index("--shape") + 1] if "--shape" in sys.argv else "light"
    time_format = "%Y-%m-%dT%H:%M:%S.123456Z" if shape in ("wide", "seed") else "%Y-%m-%dT%H:%M:%SZ"
    domain = "mail.example-corp.com" if shape == "wide" else "example.com"
    key = (lambda i: f"usr_{i:08d}") if "--ascending-keys" in sys.argv else (lambda i: uuid_id(i, 0))
    rnd = random.Random(42)
    day = datetime.timedelta(days=1 if changed else 0)
    with open(out, "w", buffering=1 << 20) as f:
        f.write("id,name,email,address,company,job,updatedAt,createdAt\n")
        lines = []
        for i in range(1, rows + 1):
            first, last = FIRST[rnd.randrange(16)], LAST[rnd.randrange(14)]
            name = f"{first} {last} v2" if changed else f"{first} {last}"
            if shape == "seed":
                name = csv_quoted(f"{last}, {first}" + (" v2" if changed else ""))
            street = address(rnd, i, shape)
            updated = (EPOCH + datetime.timedelta(seconds=37 * i) + day).strftime(time_format)
            created = (EPOCH - datetime.timedelta(days=400, seconds=-11 * i)).strftime(time_format)
            lines.append(f"{key(i)},{name},{first.lower()}.{last.lower()}{i}@{domain},"
                         f"{street},{COMPANIES[rnd.randrange(8)]},{JOBS[rnd.randrange(7)]},"
                         f"{updated},{created}\n")
            if len(lines) == 10000:
                f.write("".join(lines))
                lines = []
        f.write("".join(lines))


if __name__ == "__main__":
    main()
