#!/usr/bin/env python3
"""Mock CSV export API for csv_export_fdw's tests and demo.

Stands in for a SaaS "export" endpoint the way fivetran-api-playground did for
the original connector.  Standard library only, and the zstd command for zstd files.

Endpoints (all GET):
  /export/csv?rows=N&seed=S   the user export: N rows (default 200), deterministic,
                              streamed with chunked transfer encoding; more:
      &version=V              a later state of the export (see export_rows())
      &updated_since=ISO      only rows with updatedAt after that time
      &dup=1                  the first row repeated at the end, renamed
                              Ids are random UUIDs (the same for the same row and seed),
                              so the export is in no particular key order, as real
                              ones are; with ids=sequential they are usr_00001,
                              usr_00002, ... in export order.
      &repeat=K               every K-th row comes again K/2 rows later, renamed
      &order=O                the rows (with their repeats) reordered: sorted or
                              descending by id, shuffled, or runs (sorted in runs of
                              50 rows, the runs shuffled); sorts are stable, so a
                              repeated key keeps its last row last
      &fail_after=K           K rows, then the connection closes mid-body
      &bad_value_at=K         row K's updatedAt is not a time
      &stray_quote_at=K       row K's id has a quote in it, unquoted: bad CSV
      &etag=1                 with ETag and Last-Modified; a request whose
                              If-None-Match or If-Modified-Since matches gets
                              304 Not Modified; etag=echo: the ETag is the
                              request's Authorization header
  /fixtures/NAME?chunk=K      test/fixtures/NAME as is; with chunk, sent K bytes at
                              a time with a short pause, so records, multibyte
                              characters and the byte-order mark arrive split
  /status/CODE                an error response with that status and a text body
  /slow?rows=N&delay=S        the user export, one row every S seconds
  /truncated?rows=N&delay=S   N rows (default 5), then after S seconds the
                              connection closes short of its Content-Length
  /reset?rows=N&delay=S       N rows, then after S seconds a connection reset
  /paged?mode=M&rows=N&per_page=K
                              the user export in pages (see paged())
  /redirect?to=URL&status=S   a redirect (302 unless S says otherwise) to URL
  /headers                    the request's headers, as a CSV of name,value
  /auth/bearer                the user export for "Authorization: Bearer s3cret-token"
  /auth/basic                 ... for user "alice", password "wonderland"
  /auth/apikey                ... for header "X-Api-Key: k3y-123"
                              (else 401, with a body that echoes what was sent)
  /flaky?case=C&failures=N&status=S&retry_after=R
                              the first N requests of case C get status S
                              (with Retry-After: R, or an HTTP date if R is
                              "date:SECONDS"; S=0 drops the connection, S=-1
                              sends a 200 whose body breaks off in the first
                              record, S=-3 too but under another header, S=-2
                              in the second record, after a first with a bad
                              updatedAt), the next ones the user export

POST /jobs (body {"rows": N}, query polls=K or never=1, retry_after=R, name=ID) starts an export
job: 202 with Location /jobs/ID, which answers 202 K times and then 303 to
the export (or 202 for ever).

Every user export also takes compress=gzip or compress=deflate: the body is
compressed, and refused (406) if the client does not accept that encoding;
with cut=K the compressed body loses its last K bytes (sent complete as far
as HTTP goes: with a Content-Length that says so, or chunked with chunked=1).

Every user export and fixture also takes pack=gzip, zstd, bzip2 or xz (or
gzip2, zstd2, bzip2_2, xz2: two streams one after another): the body is a
compressed file (a .csv.gz), sent as application/octet-stream without
Content-Encoding, or with content_encoding=1 with "Content-Encoding: gzip"
(the file's gzip is the encoding, as object stores serve a .csv.gz); cut=K
drops its last K bytes; chunk=K sends it K bytes at a time.

  /repetitive?rows=N&width=W  N rows of one W-byte field (id,payload), gzip'd
                              (about 1000:1), with Content-Encoding unless raw=1
  /drip?delay=S               a 4-byte CSV ("a\n1\n"), one byte every S seconds
  /trickle_headers?delay=S    a 200 whose header lines come one every S seconds
  /big_headers?size=N         the user export with N bytes of X-Padding headers
  /long_location?size=N       a 302 whose Location is N bytes long
  /flaky_count?case=C         how many requests case C of /flaky got (GET or POST)
  /wide?columns=N             a CSV of one row whose header is c1 ... cN
  /manifest?files=N&rows=R&host=H&case=C&expire=I&relative=1&pack=P&flaky=I
                              a JSON manifest of N pre-signed file URLs on host H
                              (see manifest()); POST /jobs?manifest=N&host=H&expire=I
                              ends in one
  /archive?kind=K&members=A,B&rows=R&other_header=1&cut=N&cut_half=1&chunk=C
                              an archive (zip, zip_descriptor: written as a stream,
                              sizes after the data; zip_stored_descriptor; tar;
                              tar.gz) whose .csv members are parts of the user
                              export (R rows each; with other_header the second
                              has its columns reversed) and whose other members
                              are text
  /signed?part=I&rows=R&sig=S part I of the export (403 if expired; 400 if sent
                              credentials)
  /deep_json?depth=N          a CSV (id,doc) whose doc is N '[' characters
  /delimiters?bytes=N&at=A    a CSV (header a,b) with a line of N commas: the
                              header (at=header) or between two good rows

POST /flaky takes the same parameters as GET /flaky.

A second port (--blackhole-port, default port+1) accepts no connections at
all: its backlog is kept full, so a connect to it times out.  Given a
certificate (--tls-cert, --tls-key), a third (--tls-port, default port+2)
serves the same API over HTTPS.
"""

AUTH = {
    "bearer": ("Authorization", "Bearer s3cret-token"),
    "basic": ("Authorization", "Basic " + __import__("base64").b64encode(b"alice:wonderland").decode()),
    "apikey": ("X-Api-Key", "k3y-123"),
}

import argparse
import bz2
import csv
import datetime
import email.utils
import gzip
import hashlib
import io
import itertools
import lzma
import os
import random
import socket
import ssl
import struct
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

HEADER = ["id", "name", "email", "address", "company", "job", "updatedAt", "createdAt"]
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken",
         "Margaret", "Dennis", "Radia", "John", "Sophie", "Tim", "Hedy", "Linus"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen",
        "Thompson", "Hamilton", "Ritchie", "Perlman", "McCarthy", "Wilson", "Berners-Lee"]
STREETS = ["Main St", "Oak Ave", "Elm Rd", "Pine Ln", "Maple Dr", "Cedar Ct"]
CITIES = ["Springfield, IL 62704", "Portland, OR 97201", "Austin, TX 73301",
          "Boston, MA 02108", "Denver, CO 80202"]
COMPANIES = ["Acme, Inc.", "Globex", "Initech", "Umbrella Corp", "Hooli",
             "Vandelay Industries", "Stark \"Industries\"", "Wayne Enterprises"]
JOBS = ["Engineer", "Data Analyst", "Product Manager", "\"Chief\" Officer",
        "Designer", "Support, Tier 2", "Accountant"]

EPOCH = datetime.datetime(2024, 12, 1, 10, 15, 30, tzinfo=datetime.timezone.utc)


def iso(ts):
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def user_row(i, seed, version=1):
    """Row i of the user export; the same for the same (i, seed, version)."""
    rnd = random.Random(seed * 1_000_003 + i)
    first, last = rnd.choice(FIRST), rnd.choice(LAST)
    address = f"{rnd.randint(1, 9999)} {rnd.choice(STREETS)}, {rnd.choice(CITIES)}"
    if i % 7 == 3:
        address = f"{rnd.randint(1, 9999)} {rnd.choice(STREETS)}\nApt {rnd.randint(1, 99)}\n{rnd.choice(CITIES)}"
    if i % 11 == 5:
        address = f"The \"Old Mill\", Unit {rnd.randint(1, 40)}"
    created = EPOCH - datetime.timedelta(days=400) + datetime.timedelta(minutes=97 * i)
    updated = EPOCH + datetime.timedelta(minutes=37 * i, seconds=i % 60)
    name, company, job = f"{first} {last}", rnd.choice(COMPANIES), rnd.choice(JOBS)
    # later versions of the export change some rows, newest updatedAt first
    for v in range(2, version + 1):
        if i % 10 == v % 10:
            name = f"{first} {last} (v{v})"
            updated = EPOCH + datetime.timedelta(days=365 + v, minutes=i)
    return [f"usr_{i:05d}", name, f"{first}.{last}{i}@example.com".lower(),
            address, company, job, iso(updated), iso(created)]


def uuid_id(i, seed):
    """A version 4 UUID for row i, the same for the same (i, seed)."""
    h = bytearray(hashlib.blake2b(i.to_bytes(8, "little") + seed.to_bytes(8, "little"),
                                  digest_size=16).digest())
    h[6] = (h[6] & 0x0F) | 0x40
    h[8] = (h[8] & 0x3F) | 0x80
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def with_uuid(row, seed):
    return [uuid_id(int(row[0][len("usr_"):]), seed)] + row[1:]


def reordered(rows, p, seed):
    """The rows as the query's ids, repeat and order parameters say; a
    generator still, unless they are repeated or reordered."""
    if p.get("ids", "uuid") == "uuid":
        rows = (with_uuid(row, seed) for row in rows)
    if not p.get("repeat") and not p.get("order"):
        return rows
    rows = list(rows)
    repeat = int(p.get("repeat", 0))
    if repeat:
        copies = [(j + repeat // 2, rows[j][:1] + [rows[j][1] + " (again)"] + rows[j][2:])
                  for j in range(repeat - 1, len(rows), repeat)]
        for at, copy in reversed(copies):
            rows.insert(min(at + 1, len(rows)), copy)
    order = p.get("order")
    if order in ("sorted", "descending"):
        # reverse=True keeps rows with equal keys in their order too
        rows.sort(key=lambda r: r[0], reverse=(order == "descending"))
    elif order == "shuffled":
        random.Random(seed).shuffle(rows)
    elif order == "runs":
        rows.sort(key=lambda r: r[0])
        runs = [rows[k:k + 50] for k in range(0, len(rows), 50)]
        random.Random(seed).shuffle(runs)
        rows = [r for run in runs for r in run]
    return rows


def export_rows(rows, seed, version):
    """Row numbers of an export version: from version 2 on, every 50th row
    (counting from 7) is gone and five new rows are added per version."""
    for i in range(1, rows + 5 * (version - 1) + 1):
        if version >= 2 and i % 50 == 7:
            continue
        yield user_row(i, seed, version)


def parse_iso(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def csv_text(rows):
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8")



def packed(body, how):
    """body compressed as a file: gzip, zstd, bzip2, xz; with a 2 suffix
    (gzip2, zstd2, bzip2_2, xz2) as two streams, one after another."""
    two = how.endswith("2") and how != "bzip2"
    how = how.rstrip("2").rstrip("_") if two else how
    if two:
        half = len(body) // 2
        return packed(body[:half], how) + packed(body[half:], how)
    if how == "gzip":
        return gzip.compress(body)
    if how == "bzip2":
        return bz2.compress(body)
    if how == "xz":
        return lzma.compress(body)
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c", "-"], input=body, capture_output=True,
                              check=True).stdout
    raise ValueError(how)


class _Unseekable(io.RawIOBase):
    """Where zipfile writes as to a pipe: sizes and CRCs in data descriptors."""
    def __init__(self):
        super().__init__()
        self.data = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.data += b
        return len(b)


def archive_bytes(kind, files):
    """files (name, bytes) as a zip or tar archive of that kind."""
    if kind.startswith("zip"):
        method = zipfile.ZIP_STORED if "stored" in kind else zipfile.ZIP_DEFLATED
        out = _Unseekable() if "descriptor" in kind else io.BytesIO()
        with zipfile.ZipFile(out, "w", method) as z:
            for name, data in files:
                if "descriptor" in kind:
                    with z.open(name, "w") as f:
                        f.write(data)
                else:
                    z.writestr(name, data)
        return bytes(out.data) if "descriptor" in kind else out.getvalue()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1735689600
            t.addfile(info, io.BytesIO(data))
    body = out.getvalue()
    return gzip.compress(body, mtime=0) if kind == "tar.gz" else body

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-export-api/1.0"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    # -- helpers ---------------------------------------------------------
    def params(self):
        return {k: v[-1] for k, v in parse_qs(urlparse(self.path).query).items()}

    def send_body(self, status, body, content_type="text/csv; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_packed(self, body):
        """body as a compressed file (see pack=), as the query asks."""
        p = self.params()
        body = packed(body, p["pack"])
        body = body[:len(body) - int(p.get("cut", 0))]
        self.send_octets(body, "gzip" if p.get("content_encoding") else None)

    def send_octets(self, body, encoding=None):
        """body as a file (application/octet-stream), chunk=K bytes at a time."""
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        size = int(self.params().get("chunk", 0)) or len(body) or 1
        for start in range(0, len(body), size):
            self.wfile.write(body[start:start + size])
            self.wfile.flush()
            if size < len(body):
                time.sleep(0.002)

    def send_export(self, rows_param_default=None):
        """The user export, compressed if asked to; returns False if refused."""
        p = self.params()
        if p.get("pack"):
            rows, seed = int(p.get("rows", self.server.rows)), int(p.get("seed", 1))
            self.send_packed(csv_text([HEADER] + list(reordered(
                export_rows(rows, seed, int(p.get("version", 1))), p, seed))))
            return
        compress = p.get("compress")
        if compress:
            if compress not in self.headers.get("Accept-Encoding", ""):
                self.send_body(406, f"client does not accept {compress}\n".encode(), "text/plain")
                return
            rows, seed = int(p.get("rows", self.server.rows)), int(p.get("seed", 1))
            body = csv_text([HEADER] + list(reordered(export_rows(rows, seed, int(p.get("version", 1))),
                                                      p, seed)))
            body = gzip.compress(body) if compress == "gzip" else zlib.compress(body)
            body = body[:len(body) - int(p.get("cut", 0))]
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Encoding", compress)
            if p.get("chunked"):
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.chunk(body)
                self.end_chunked()
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.export_csv()

    def start_chunked(self, validators=None):
        self.send_response(200)
        self.send_header("Content-Type", "text/csv; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in (validators or {}).items():
            self.send_header(name, value)
        self.end_headers()

    def not_modified(self, validators):
        """With etag=1, validators for the export at this URL (the same URL
        gives the same rows); True if the request's If-None-Match or
        If-Modified-Since matches, and a 304 was sent."""
        tag = '"%s"' % hashlib.sha1(self.path.encode()).hexdigest()[:16]
        if self.params().get("etag") == "echo":  # a hostile API: the credentials back
            tag = '"%s"' % self.headers.get("Authorization", "")
        version = int(self.params().get("version", 1))
        modified = email.utils.formatdate(1735689600 + 86400 * version, usegmt=True)
        validators.update({"ETag": tag, "Last-Modified": modified})
        # If-None-Match, where sent, decides alone (RFC 9110, 13.2.2)
        if ("If-None-Match" in self.headers and self.headers["If-None-Match"] == tag or
                "If-None-Match" not in self.headers and
                self.headers.get("If-Modified-Since") == modified):
            self.send_response(304)
            self.send_header("ETag", tag)
            self.end_headers()
            return True
        return False

    def chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")

    # -- endpoints -------------------------------------------------------
    def do_GET(self):
        path = urlparse(self.path).path
        routes = {
            "/paged": self.paged,
            "/export/csv": self.send_export,
            "/manifest": self.manifest,
            "/archive": self.archive,
            "/signed": self.signed,
            "/signed_once_503": self.signed_once_503,
            "/headers": self.echo_headers,
            "/flaky": self.flaky,
            "/slow": self.slow,
            "/truncated": self.truncated,
            "/reset": self.reset,
            "/redirect": self.redirect,
            "/repetitive": self.repetitive,
            "/drip": self.drip,
            "/trickle_headers": self.trickle_headers,
            "/big_headers": self.big_headers,
            "/long_location": self.long_location,
            "/flaky_count": self.flaky_count,
            "/delimiters": self.delimiters,
            "/wide": self.wide,
            "/deep_json": self.deep_json,
        }
        try:
            if path in routes:
                routes[path]()
            elif path.startswith("/fixtures/"):
                self.fixture(path[len("/fixtures/"):])
            elif path.startswith("/jobs/"):
                self.job_status(path[len("/jobs/"):])
            elif path.startswith("/auth/"):
                self.auth(path[len("/auth/"):])
            elif path.startswith("/status/"):
                self.status(int(path[len("/status/"):]))
            else:
                self.send_body(404, b"no such endpoint\n", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away, as a cancelled scan does

    def export_csv(self):
        p = self.params()
        rows, seed = int(p.get("rows", self.server.rows)), int(p.get("seed", 1))
        version = int(p.get("version", 1))
        since = parse_iso(p["updated_since"]) if "updated_since" in p else None
        fail_after = int(p.get("fail_after", -1))
        validators = {}
        if p.get("etag") and self.not_modified(validators):
            return
        self.start_chunked(validators)
        self.chunk(csv_text([HEADER]))
        batch, sent = [], 0
        selected = (r for r in export_rows(rows, seed, version)
                    if since is None or parse_iso(r[6]) > since)
        selected = reordered(selected, p, seed)
        if p.get("dup"):
            selected = self.with_duplicate(selected)
        bad_value_at = int(p.get("bad_value_at", 0))
        stray_quote_at = int(p.get("stray_quote_at", 0))
        for row in selected:
            if sent + 1 == bad_value_at:
                row[6] = "not a time"
            if sent + 1 == stray_quote_at:
                # csv.writer would quote it: written out by hand instead
                self.chunk(csv_text(batch) + b'x"' + csv_text([row]))
                batch = []
                sent += 1
                continue
            if sent == fail_after:
                # close without the last chunk: the client must see that the
                # body is incomplete (a clean close, so it reads all that was sent)
                self.chunk(csv_text(batch))
                self.wfile.flush()
                self.close_connection = True
                return
            batch.append(row)
            sent += 1
            if len(batch) == 500:
                self.chunk(csv_text(batch))
                batch = []
        self.chunk(csv_text(batch))
        self.end_chunked()

    @staticmethod
    def with_duplicate(rows):
        """The rows, then the first one again with another name."""
        first = None
        for row in rows:
            first = first or row
            yield row
        if first:
            yield [first[0], first[1] + " (again)"] + first[2:]

    def reset_connection(self):
        # SO_LINGER with a zero timeout makes close() send a RST
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def fixture(self, name):
        full = os.path.join(FIXTURES, os.path.basename(name))
        if not os.path.isfile(full):
            self.send_body(404, b"no such fixture\n", "text/plain")
            return
        with open(full, "rb") as f:
            body = f.read()
        if self.params().get("pack"):
            self.send_packed(body)
            return
        size = int(self.params().get("chunk", 0))
        if not size:
            self.send_body(200, body)
            return
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        for start in range(0, len(body), size):
            self.wfile.write(body[start:start + size])
            self.wfile.flush()
            time.sleep(0.002)

    def status(self, code):
        body = (f"{{\"error\": \"mock status {code}\", \"detail\": "
                f"\"the export could not be produced\"}}\n").encode()
        self.send_body(code, body, "application/json")

    def slow(self):
        p = self.params()
        rows, delay = int(p.get("rows", 100)), float(p.get("delay", 1.0))
        self.start_chunked()
        self.chunk(csv_text([HEADER]))
        for i in range(1, rows + 1):
            self.chunk(csv_text([user_row(i, 1)]))
            self.wfile.flush()
            time.sleep(delay)
        self.end_chunked()

    def truncated(self):
        p = self.params()
        rows, delay = int(p.get("rows", 5)), float(p.get("delay", 0))
        body = csv_text([HEADER] + [user_row(i, 1) for i in range(1, rows + 1)])
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(body) + 1000))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        time.sleep(delay)
        self.close_connection = True

    def reset(self):
        p = self.params()
        rows, delay = int(p.get("rows", 5)), float(p.get("delay", 0.1))
        self.start_chunked()
        self.chunk(csv_text([HEADER] + [user_row(i, 1) for i in range(1, rows + 1)]))
        self.wfile.flush()
        time.sleep(delay)
        self.reset_connection()

    def repetitive(self):
        """A body that compresses about 1000:1, compressed once per shape."""
        p = self.params()
        rows, width = int(p.get("rows", 1000)), int(p.get("width", 1000))
        key = (rows, width)
        with self.server.lock:
            body = self.server.repetitive.get(key)
            if body is None:
                compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
                parts = [compressor.compress(b"id,payload\n")]
                payload = b"a" * width
                for i in range(rows):
                    parts.append(compressor.compress(b"%d,%s\n" % (i, payload)))
                parts.append(compressor.flush())
                body = b"".join(parts)
                self.server.repetitive = {key: body}
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream" if p.get("raw") else "text/csv")
        if not p.get("raw"):
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def drip(self):
        delay = float(self.params().get("delay", 1))
        body = b"a\n1\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        for i in range(len(body)):
            time.sleep(delay)
            self.wfile.write(body[i:i + 1])
            self.wfile.flush()

    def trickle_headers(self):
        delay = float(self.params().get("delay", 1))
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for i in range(100):
            self.wfile.flush()
            time.sleep(delay)
            self.wfile.write(b"X-Trickle-%d: %d\r\n" % (i, i))
        self.close_connection = True

    def big_headers(self):
        size = int(self.params().get("size", 100000))
        body = csv_text([HEADER] + [user_row(i, 1) for i in range(1, 4)])
        self.send_response(200)
        for i in range(0, size, 1000):
            self.send_header(f"X-Padding-{i}", "p" * 980)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def long_location(self):
        size = int(self.params().get("size", 1000000))
        self.send_response(302)
        self.send_header("Location", "/export/csv?pad=" + "x" * size)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def wide(self):
        columns = int(self.params().get("columns", 1000))
        names = [f"c{i}" for i in range(1, columns + 1)]
        self.send_body(200, csv_text([names, [str(i) for i in range(columns)]]))

    def deep_json(self):
        depth = int(self.params().get("depth", 1000))
        self.send_body(200, csv_text([["id", "doc"], ["1", "[" * depth], ["2", "[1]"]]))

    def delimiters(self):
        p = self.params()
        commas = b"," * int(p.get("bytes", 1000))
        if p.get("at") == "header":
            parts = [commas + b"\n", b"1,2\n"]
        else:
            parts = [b"a,b\n1,2\n", commas + b"\n", b"3,4\n"]
        self.start_chunked()
        for part in parts:
            for start in range(0, len(part), 1 << 20):
                self.chunk(part[start:start + (1 << 20)])
        self.end_chunked()

    def flaky_count(self):
        case = self.params().get("case", "")
        with self.server.lock:
            seen = self.server.flaky_counts.get(case, 0)
        self.send_body(200, csv_text([["requests"], [seen]]))

    def redirect(self):
        p = self.params()
        self.send_response(int(p.get("status", 302)))
        self.send_header("Location", p.get("to", "/export/csv"))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def paged(self):
        """The user export in pages of per_page rows, each with the header.

        mode=link: a Link header rel="next" (relative URL) until the last page
        mode=page: page=N (from 1); a page past the end is empty (header only)
        mode=offset: offset=K&limit=N
        mode=cursor: an X-Next-Cursor header, sent back as cursor=TOKEN
        latency=S: wait S seconds before answering each page
        Faults: bad_header=P (page P has another header), bad_value=P (the
        last row of page P has a bad updatedAt), foreign=1 (the next
        link of page 1 is on another origin), loop=1 (page 2 links to page 1).
        """
        p = self.params()
        mode, rows, per_page = p["mode"], int(p.get("rows", 10)), int(p.get("per_page", 3))
        time.sleep(float(p.get("latency", 0)))  # the API's think time per page
        if mode == "offset":
            start, count = int(p.get("offset", 0)), int(p.get("limit", per_page))
        elif mode == "cursor":
            start, count = int(p.get("cursor", "0").replace("tok", "") or 0), per_page
        else:
            start, count = (int(p.get("page", 1)) - 1) * per_page, per_page
        page = start // per_page + 1
        selected = list(reordered((user_row(i, 1) for i in range(start + 1, min(rows, start + count) + 1)),
                                  {"ids": p.get("ids", "uuid")}, 1))
        if int(p.get("bad_value", 0)) == page and selected:
            selected[-1][6] = "not a time"
        header = HEADER if int(p.get("bad_header", 0)) != page else HEADER[:-1] + ["created"]
        body = csv_text([header] + selected)
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        more = start + count < rows
        base = {k: v for k, v in p.items() if k not in ("page", "offset", "limit", "cursor")}
        query = "&".join(f"{k}={v}" for k, v in base.items())
        if mode == "link" and more:
            target = f"/paged?{query}&page={page + 1}"
            if p.get("foreign") and page == 1:
                target = f"http://localhost:{self.server.server_address[1]}{target}"
            if p.get("loop") and page == 2:
                target = f"/paged?{query}&page=1"
            self.send_header("Link", f'<{target}>; rel="next", </paged?{query}&page=1>; rel="first"')
        if mode == "cursor" and more:
            self.send_header("X-Next-Cursor", f"tok{start + count}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        """POST /jobs starts an export job: body {"rows": N}, query polls=K
        (K answers of 202 before a 303 to the export) or never=1."""
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length) if length else b""
        if urlparse(self.path).path == "/flaky":
            self.flaky()
            return
        if urlparse(self.path).path != "/jobs":
            self.send_body(404, b"no such endpoint\n", "text/plain")
            return
        p = self.params()
        try:
            rows = int(__import__("json").loads(body or b"{}").get("rows", 5))
        except ValueError:
            self.send_body(400, b"body must be JSON\n", "text/plain")
            return
        with self.server.lock:
            job = p.get("name") or f"job{next(self.server.job_numbers)}"
            result = f"/export/csv?rows={rows}"
            if p.get("manifest"):  # the job's result is a manifest of that many files
                result = (f"/manifest?files={p['manifest']}&rows={rows}&case={job}"
                          f"&host={p.get('host', '127.0.0.1')}&expire={p.get('expire', 0)}")
            self.server.jobs[job] = {"rows": rows, "polls": int(p.get("polls", 2)),
                                     "never": bool(p.get("never")),
                                     "retry_after": p.get("retry_after"), "result": result}
        self.send_job_pending(f"/jobs/{job}", p.get("retry_after"))

    def send_job_pending(self, location, retry_after=None):
        body = b'{"status": "running"}\n'
        self.send_response(202)
        if retry_after:
            self.send_header("Retry-After", retry_after)
        self.send_header("Location", location)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def job_status(self, job):
        with self.server.lock:
            state = self.server.jobs.get(job)
            pending = state is not None and (state["never"] or state["polls"] > 0)
            if pending:
                state["polls"] -= 1
        if state is None:
            self.send_body(404, b"no such job\n", "text/plain")
        elif pending:
            self.send_job_pending(f"/jobs/{job}", state["retry_after"])
        else:
            self.send_response(303)
            self.send_header("Location", state["result"])
            self.send_header("Content-Length", "0")
            self.end_headers()

    def manifest(self):
        """A JSON manifest of files=N parts of the user export (rows=R each),
        on host=H (this port), as pre-signed URLs: the k-th reading of the
        manifest of case=C signs them C-k; with expire=I, part I signed by the
        first reading (the first expire_reads readings) is refused (403,
        expired) when fetched."""
        p = self.params()
        case = p.get("case", "default")
        with self.server.lock:
            reads = self.server.manifest_reads.get(case, 0) + 1
            self.server.manifest_reads[case] = reads
        files = [{"url": f"http://{p.get('host', '127.0.0.1')}:{self.server.server_address[1]}"
                         f"/signed?part={i}&rows={p.get('rows', 5)}&read={reads}&sig={case}-{reads}"
                         f"&expire={p.get('expire', 0)}&expire_reads={p.get('expire_reads', 1)}"
                         + (f"&pack={p['pack']}" if p.get("pack") else ""),
                  "part": i}
                 for i in range(1, int(p.get("files", 3)) + 1)]
        if p.get("flaky"):  # that file fails once (503) before it is served
            f = files[int(p["flaky"]) - 1]
            f["url"] = f["url"].replace("/signed?", f"/signed_once_503?case={case}-{reads}&")
        if p.get("relative"):
            for f in files:
                f["url"] = f["url"][f["url"].index("/signed"):]
        body = __import__("json").dumps({"status": "done", "files": files}).encode()
        self.send_body(200, body, "application/json")

    def signed_once_503(self):
        """/signed, but the first request of each case gets a 503."""
        case = self.params().get("case", "")
        with self.server.lock:
            first = case not in self.server.manifest_reads
            self.server.manifest_reads[case] = 1
        if first:
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.signed()

    def signed(self):
        """Part I of the export (rows=R each: rows R*(I-1)+1 to R*I) behind a
        pre-signed URL (see manifest())."""
        p = self.params()
        part = int(p.get("part", 1))
        read = int(p.get("sig", "x-0").rsplit("-", 1)[-1])
        if part == int(p.get("expire", 0)) and read <= int(p.get("expire_reads", 1)):
            self.send_body(403, b"<Error><Code>AccessDenied</Code>"
                                b"<Message>Request has expired</Message></Error>",
                           "application/xml")
            return
        if self.headers.get("Authorization"):  # credentials must not come here
            self.send_body(400, b"credentials sent to a pre-signed URL\n", "text/plain")
            return
        rows = int(p.get("rows", 5))
        whole = list(reordered(export_rows(rows * part, 1, 1), {}, 1))
        body = csv_text([HEADER] + whole[-rows:])
        if p.get("pack"):
            self.send_packed(body)
        else:
            self.send_body(200, body)

    def archive(self):
        """An archive of parts of the user export (see the list above)."""
        p = self.params()
        rows = int(p.get("rows", 3))
        files = []
        i = 0
        for name in p.get("members", "part1.csv,part2.csv").split(","):
            if not name.endswith(".csv"):
                files.append((name, b"not a csv file\n"))
                continue
            i += 1
            whole = list(reordered(export_rows(rows * i, 1, 1), {}, 1))
            header = HEADER[::-1] if p.get("other_header") and i == 2 else HEADER
            part = [row[::-1] if header is not HEADER else row for row in whole[-rows:]]
            files.append((name, csv_text([header] + part)))
        body = archive_bytes(p.get("kind", "zip"), files)
        self.send_octets(body[:len(body) // 2 if p.get("cut_half")
                              else len(body) - int(p.get("cut", 0))])

    def echo_headers(self):
        rows = [["name", "value"]] + [[k.lower(), v] for k, v in self.headers.items()]
        self.send_body(200, csv_text(rows))

    def auth(self, kind):
        name, expected = AUTH.get(kind, ("", None))
        presented = self.headers.get(name)
        if expected is None or presented != expected:
            body = f'{{"error": "unauthorized", "you sent": "{presented}"}}\n'.encode()
            self.send_response(401)
            self.send_header("WWW-Authenticate", "Bearer" if kind == "bearer" else "Basic")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_export()

    def flaky(self):
        p = self.params()
        with self.server.lock:
            seen = self.server.flaky_counts.get(p["case"], 0)
            self.server.flaky_counts[p["case"]] = seen + 1
        if seen >= int(p.get("failures", 1)):
            self.send_export()
            return
        status = int(p.get("status", 503))
        if status == 0:
            self.reset_connection()
            return
        if status in (-1, -2, -3):
            # a 200 whose body breaks off inside the first record (-3: under
            # another header), or (-2) inside the second, after a first whose
            # updatedAt is not a time
            self.start_chunked()
            if status == -1:
                self.chunk(csv_text([HEADER])[:-2] + b"\r\nusr_00001,Linus Tur")
            elif status == -3:
                self.chunk(csv_text([HEADER[:-1] + ["created"]]) + b"usr_00001,Linus Tur")
            else:
                bad = user_row(1, 1)
                bad[6] = "not a time"
                self.chunk(csv_text([HEADER, bad]) + b"usr_00002,Ada Lov")
            self.wfile.flush()
            time.sleep(0.1)
            self.reset_connection()
            return
        body = f"failure {seen + 1}\n".encode()
        self.send_response(status)
        retry_after = p.get("retry_after")
        if retry_after and retry_after.startswith("date:"):
            when = time.time() + int(retry_after[len("date:"):])
            self.send_header("Retry-After", email.utils.formatdate(when, usegmt=True))
        elif retry_after:
            self.send_header("Retry-After", retry_after)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("MOCK_API_PORT", 5001)))
    parser.add_argument("--rows", type=int, default=200, help="rows of /export/csv")
    parser.add_argument("--blackhole-port", type=int, default=0,
                        help="port that never accepts (default: port + 1)")
    parser.add_argument("--tls-port", type=int, default=0,
                        help="also serve HTTPS here (default: port + 2)")
    parser.add_argument("--tls-cert", help="certificate file (PEM) for HTTPS")
    parser.add_argument("--tls-key", help="its private key (PEM)")
    parser.add_argument("--also-host", action="append", default=[],
                        help="serve the same API on this address too (another origin "
                             "on this machine, e.g. 127.0.0.2); may repeat")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    args.tls_port = args.tls_port or args.port + 2

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.rows = args.rows
    server.verbose = args.verbose
    server.lock = threading.Lock()
    server.flaky_counts = {}
    server.jobs = {}
    server.manifest_reads = {}
    server.job_numbers = itertools.count(1)  # named jobs take no number
    server.repetitive = {}
    blackhole = open_blackhole(args.host, args.blackhole_port or args.port + 1)
    if args.tls_cert:
        start_tls_server(args, server)
    for host in args.also_host:
        start_plain_server(host, args.port, server)
    print(f"mock export API on http://{args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        for sock in blackhole:
            sock.close()


SHARED_STATE = ("daemon_threads", "rows", "verbose", "lock", "flaky_counts", "jobs",
                "manifest_reads", "job_numbers", "repetitive")


def start_plain_server(host, port, first):
    """The same API over HTTP on another address, sharing first's state."""
    other = ThreadingHTTPServer((host, port), Handler)
    for attr in SHARED_STATE:
        setattr(other, attr, getattr(first, attr))
    threading.Thread(target=other.serve_forever, daemon=True).start()


def start_tls_server(args, plain):
    """The same API over HTTPS, on --tls-port, in a thread of its own."""
    tls = ThreadingHTTPServer((args.host, args.tls_port), Handler)
    for attr in SHARED_STATE:
        setattr(tls, attr, getattr(plain, attr))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    threading.Thread(target=tls.serve_forever, daemon=True).start()


def open_blackhole(host, port):
    """A listening socket that never accepts, its backlog filled so that
    further connection attempts get no answer at all."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(0)
    fillers = []
    for _ in range(4):
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        filler.setblocking(False)
        filler.connect_ex((host, port))
        fillers.append(filler)
    time.sleep(0.2)
    return [listener] + fillers


if __name__ == "__main__":
    main()
