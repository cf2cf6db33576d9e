#!/usr/bin/env python3
"""Archives for test/archive_test.c, made by the mock API's archive_bytes():
for each kind, DIR/KIND.archive and DIR/KIND.expected (what its members hold,
as archive_test prints them), then the arguments archive_test takes."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mock_api import archive_bytes  # noqa: E402

out_dir = sys.argv[1]
files = [("a.csv", b"id,name\n1,\"Ann, Jr.\"\n2,Bob\n" * 200),
         ("docs/README.txt", b""),
         ("x" * 120 + "/long-name.csv", b"id,name\n3,Cy\n")]
args = []
for kind in ("zip", "zip_stored", "zip_descriptor", "tar"):
    archive = os.path.join(out_dir, kind + ".archive")
    expected = os.path.join(out_dir, kind + ".expected")
    with open(archive, "wb") as f:
        f.write(archive_bytes(kind, files))
    with open(expected, "wb") as f:
        f.write(b"".join(b"[" + name.encode() + b"]" + data + b"[end]" for name, data in files))
    args += [archive, expected]
print(" ".join(args))
