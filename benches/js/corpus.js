// jsonata-js side of `cargo bench --bench corpus`: every mapping of the corpus over its events,
// end to end (JSON.parse, evaluate, JSON.stringify), timed inside node, with $now()/$millis()
// frozen at the instant cxsync is given (so outputs can be compared byte for byte).
//
// usage: node corpus.js MANIFEST.json RUNS [--dump NAME OUT]
// MANIFEST: {"now": ISO, "mappings": [{"name", "expr", "events"}]} (paths to files)
// prints one JSON line per mapping:
//   {"name", "wall_ms": [...], "cpu_ms": [...], "bytes", "hash", "undefined", "errors", "jsonata"}
// `hash` is FNV-1a (32 bit) over the UTF-8 bytes of every output line plus "\n" (an undefined
// result is an empty line, an error `!CODE`); cxsync computes the same. --dump writes one
// mapping's output lines to OUT instead.
"use strict";
const fs = require("fs");
const jsonata = require("jsonata");
const { frozenClock } = require("./clock");

function fnv(hash, buf) {
  for (let i = 0; i < buf.length; i++) {
    hash ^= buf[i];
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

async function main() {
  const [manifestFile, runsArg, ...rest] = process.argv.slice(2);
  const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8"));
  const runs = Number(runsArg || 3);
  const dump = rest[0] === "--dump" ? { name: rest[1], out: rest[2] } : null;
  const bindings = frozenClock(manifest.now);
  const cache = new Map();
  const version = require("jsonata/package.json").version;
  for (const m of manifest.mappings) {
    if (dump && m.name !== dump.name) continue;
    if (!cache.has(m.events)) {
      cache.set(m.events, fs.readFileSync(m.events, "utf8").split("\n").filter((l) => l.length > 0));
    }
    const lines = cache.get(m.events);
    const expr = jsonata(fs.readFileSync(m.expr, "utf8"));
    const once = async (line) => {
      try {
        const out = await expr.evaluate(JSON.parse(line), bindings);
        return out === undefined ? "" : JSON.stringify(out);
      } catch (e) {
        return "!" + (e.code || "ERROR");
      }
    };
    if (dump) {
      const outs = [];
      for (const line of lines) outs.push(await once(line));
      fs.writeFileSync(dump.out, outs.join("\n") + "\n");
      return;
    }
    // Warm-up, so the JIT has compiled the hot paths (the Rust side warms up too).
    for (const line of lines.slice(0, Math.min(lines.length, 1000))) await once(line);
    const wall = [];
    const cpu = [];
    for (let r = 0; r < runs; r++) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (const line of lines) await once(line);
      wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
    }
    // One more pass, untimed, for the comparison of outputs.
    let hash = 0x811c9dc5;
    let bytes = 0;
    let undef = 0;
    let errors = 0;
    for (const line of lines) {
      const out = await once(line);
      if (out === "") undef++;
      if (out.startsWith("!")) errors++;
      const buf = Buffer.from(out + "\n", "utf8");
      bytes += buf.length;
      hash = fnv(hash, buf);
    }
    console.log(JSON.stringify({ name: m.name, wall_ms: wall, cpu_ms: cpu, bytes, hash, undefined: undef, errors, jsonata: version }));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
