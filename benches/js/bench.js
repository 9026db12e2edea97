// jsonata-js side of `cargo bench --bench transform`: the same transform over the same events,
// end to end (JSON.parse, evaluate, JSON.stringify), timed inside node (startup excluded).
//
// usage: node bench.js TRANSFORM.jsonata EVENTS.ndjson RUNS
// prints one JSON line: {"runs_ms": [...], "events": N, "bytes": B, "jsonata": "2.2.2"}
"use strict";
const fs = require("fs");
const jsonata = require("jsonata");

async function main() {
  const [exprFile, eventsFile, runsArg] = process.argv.slice(2);
  const expr = jsonata(fs.readFileSync(exprFile, "utf8"));
  const lines = fs.readFileSync(eventsFile, "utf8").split("\n").filter((l) => l.length > 0);
  const runs = Number(runsArg || 5);
  const runsMs = [];
  let bytes = 0;
  // One warm-up pass so the JIT has compiled the hot paths, as the Rust side warms up too.
  for (const line of lines.slice(0, 10000)) await expr.evaluate(JSON.parse(line));
  for (let r = 0; r < runs; r++) {
    bytes = 0;
    const t0 = process.hrtime.bigint();
    for (const line of lines) {
      const out = await expr.evaluate(JSON.parse(line));
      if (out !== undefined) bytes += Buffer.byteLength(JSON.stringify(out));
    }
    runsMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const version = require("jsonata/package.json").version;
  console.log(JSON.stringify({ runs_ms: runsMs, events: lines.length, bytes, jsonata: version }));
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
