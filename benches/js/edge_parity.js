// Records (--record) or checks the jsonata-js results of tests/transform/edge-parity.json: hostile
// expressions and events (huge numbers, NaN/Infinity, unicode, pictures, odd ISO forms, context
// arguments) that `tests/transform/parity.rs` runs on BOTH of cxsync's paths (the compiled one and
// the engine's), through `Value`s and through JSON text.
//
// Each case is {name, expr, event}; `event` is the JSON text of the input (any JSON, so a case
// can hold numbers no JavaScript double keeps). The clock is frozen at 2024-01-01T00:00:00Z. The
// recorded result is {text: JSON.stringify(output)} | {undefined: true} | {error: CODE}.
"use strict";
const fs = require("fs");
const path = require("path");
const jsonata = require("jsonata");
const { frozenClock } = require("./clock");

const CASES = path.join(__dirname, "../../tests/transform/edge-parity.json");
const NOW = "2024-01-01T00:00:00Z";

async function evaluateJs(c) {
  try {
    const out = await jsonata(c.expr).evaluate(JSON.parse(c.event), frozenClock(NOW));
    if (out === undefined) return { undefined: true };
    return { text: JSON.stringify(out) };
  } catch (e) {
    return { error: e.code || String(e.message || e) };
  }
}

async function main() {
  const record = process.argv.includes("--record");
  const cases = JSON.parse(fs.readFileSync(CASES, "utf8"));
  let failed = 0;
  for (const c of cases) {
    const js = await evaluateJs(c);
    if (record) {
      c.jsonataJs = js;
    } else if (JSON.stringify(js) !== JSON.stringify(c.jsonataJs)) {
      failed++;
      console.log(`FAIL ${c.name}: recorded ${JSON.stringify(c.jsonataJs)}, jsonata-js now ${JSON.stringify(js)}`);
    }
  }
  if (record) {
    fs.writeFileSync(CASES, JSON.stringify(cases, null, 2) + "\n");
    console.log(`recorded ${cases.length} cases with jsonata ${require("jsonata/package.json").version}`);
  } else {
    console.log(`${cases.length - failed} agree with the recording, ${failed} do not`);
    process.exitCode = failed ? 1 : 0;
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
