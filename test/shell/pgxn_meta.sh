#!/usr/bin/env bash
# META.json, for PGXN: valid JSON with the keys the PGXN meta spec requires,
# and its versions in step with the extension's control file; so is the
# version requests name in their User-Agent.
set -euo pipefail
project=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python3 - "$project" <<'PY'
import json, re, sys
project = sys.argv[1]
meta = json.load(open(f"{project}/META.json"))
required = ["name", "abstract", "version", "maintainer", "license", "provides", "meta-spec"]
missing = [k for k in required if k not in meta]
assert not missing, f"META.json lacks {missing}"
assert meta["meta-spec"]["version"] == "1.0.0", "meta-spec 1.0.0"
assert meta["prereqs"]["runtime"]["requires"]["PostgreSQL"] == "15.0.0", "PostgreSQL >= 15"
for name, ext in meta["provides"].items():
    for k in ("file", "version"):
        assert k in ext, f"provides.{name} lacks {k}"
control = open(f"{project}/csv_export_fdw.control").read()
default = re.search(r"default_version = '([^']+)'", control).group(1)
assert meta["version"].startswith(default + "."), f"version {meta['version']} vs control {default}"
assert meta["provides"]["csv_export_fdw"]["version"] == meta["version"]
agent = re.search(r'#define CSV_EXPORT_FDW_VERSION "([^"]+)"', open(f"{project}/src/option.h").read())
assert agent and agent.group(1) == default, f"User-Agent version vs control {default}"
print("META.json ok")
PY
