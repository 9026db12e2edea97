#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ from the repository: specs, fixtures, scenarios, transforms, DLQ
records and every expression (with its data) of the vendored JSONata suite. Run from anywhere;
the corpus is not committed (fuzz/.gitignore), regressions are (fuzz/regressions/)."""

import glob
import hashlib
import json
import os

FUZZ = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(FUZZ)


def files(*patterns):
    for p in patterns:
        yield from sorted(glob.glob(os.path.join(ROOT, p), recursive=True))


def put(target, data):
    d = os.path.join(FUZZ, "corpus", target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


yaml_files = list(files("specs/*.yaml", "fixtures/**/*.yaml"))
transforms = [read(p) for p in files("specs/**/*.jsonata", "fixtures/**/*.jsonata")]
events = [read(p) for p in files("fixtures/events/*.json")]

for p in yaml_files:
    spec = read(p)
    put("spec_load", spec)
    put("yaml", spec)
    for t in transforms[:2]:
        put("spec_load", spec + b"\0" + t + b"\0" + events[0])
for p in files("scenarios/*.yaml"):
    put("scenario_load", read(p))
    put("yaml", read(p))

datasets = {}
for p in files("tests/jsonata-test-suite/datasets/*.json"):
    datasets[os.path.splitext(os.path.basename(p))[0]] = read(p)
for p in files("tests/jsonata-test-suite/groups/*/*.json"):
    try:
        case = json.loads(read(p))
    except ValueError:
        continue
    for c in case if isinstance(case, list) else [case]:
        expr = c.get("expr")
        if not isinstance(expr, str):
            continue
        e = expr.encode("utf-8", "surrogatepass")
        put("jsonata_parse", e)
        if "data" in c:
            data = json.dumps(c["data"]).encode("utf-8", "surrogatepass")
        else:
            data = datasets.get(c.get("dataset"), b"{}")
        put("transform_eval", e + b"\0" + data)
for t in transforms:
    put("jsonata_parse", t)
    for ev in events:
        put("transform_eval", t + b"\0" + ev)

for v in ["120", "0", "Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
          "Sun Nov  6 08:49:37 1994", "18446744073709551616", " 5 ", "-1", "1.5"]:
    put("retry_after", v.encode())

for p in files("fixtures/dlq/**/*.json"):
    put("dlq_record", read(p))

for t in sorted(os.listdir(os.path.join(FUZZ, "corpus"))):
    print(t, len(os.listdir(os.path.join(FUZZ, "corpus", t))))
