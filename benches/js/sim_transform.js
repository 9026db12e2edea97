// Transforms the events `cxsync sim` generated (dumped by `benches/sim.rs --dump`, one matched
// event per NDJSON line) with jsonata-js, for the benchmark in benches/sim.rs.
// Usage: node benches/js/sim_transform.js TRANSFORM.jsonata EVENTS.ndjson
// Prints: matched events, then CPU ms (user + system) spent in `evaluate` alone (reading and
// JSON.parse are left out: this is what jsonata-js needs merely to transform them), then the
// whole process's CPU ms. Needs the `jsonata` package (benches/js/node_modules, or NODE_PATH).
'use strict';
const fs = require('fs');
const readline = require('readline');
const jsonata = require('jsonata');

(async () => {
  const [exprFile, eventsFile] = process.argv.slice(2);
  const expr = jsonata(fs.readFileSync(exprFile, 'utf8'));
  const lines = readline.createInterface({ input: fs.createReadStream(eventsFile), crlfDelay: Infinity });
  let matched = 0;
  let evalUs = 0;
  // Batches keep the per-call overhead of process.cpuUsage out of the figure.
  let batch = [];
  const run = async () => {
    const t0 = process.cpuUsage();
    for (const ev of batch) {
      const out = await expr.evaluate(ev);
      if (out !== undefined) matched++;
    }
    const d = process.cpuUsage(t0);
    evalUs += d.user + d.system;
    batch = [];
  };
  for await (const line of lines) {
    if (line.length === 0) continue;
    batch.push(JSON.parse(line));
    if (batch.length === 1000) await run();
  }
  await run();
  const cpu = process.cpuUsage();
  process.stdout.write(`${matched} ${Math.round(evalUs / 1000)} ${Math.round((cpu.user + cpu.system) / 1000)}\n`);
})();
