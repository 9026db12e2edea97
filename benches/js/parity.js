// Records (--record) or checks the jsonata-js results of tests/transform/eval-parity.json.
//
// Each case is {name, expr, event, now}; `$now()`/`$millis()` are frozen at `now` through
// bindings, as cxsync freezes them. The recorded result is {output} | {undefined: true} |
// {error: CODE}. Without --record, the live jsonata-js results are compared with the recorded
// ones and with `cxsync eval` (CXSYNC=path/to/cxsync, default ../../target/debug/cxsync).
"use strict";
const fs = require("fs");
const path = require("path");
const os = require("os");
const { execFileSync } = require("child_process");
const jsonata = require("jsonata");
const { frozenClock } = require("./clock");

const CASES = path.join(__dirname, "../../tests/transform/eval-parity.json");

async function evaluateJs(c) {
  const bindings = frozenClock(c.now);
  try {
    const out = await jsonata(c.expr).evaluate(c.event, bindings);
    if (out === undefined) return { undefined: true };
    // JSON text, as cxsync prints it: sequences become plain arrays, undefined drops.
    return { output: JSON.parse(JSON.stringify(out)) };
  } catch (e) {
    return { error: e.code || String(e.message || e) };
  }
}

function evaluateCxsync(c, bin) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cxsync-parity-"));
  const file = path.join(dir, "event.json");
  fs.writeFileSync(file, JSON.stringify(c.event));
  try {
    const out = execFileSync(
      bin,
      ["eval", "--expr", c.expr, "--event", file, "--now", c.now, "--compact"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    return out === "" ? { undefined: true } : { output: JSON.parse(out) };
  } catch (e) {
    if (e.status === 1) {
      const m = /error: ([A-Z]\d{4}):/.exec(e.stderr);
      return { error: m ? m[1] : e.stderr.trim() };
    }
    throw e;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

async function main() {
  const record = process.argv.includes("--record");
  const cases = JSON.parse(fs.readFileSync(CASES, "utf8"));
  let failed = 0;
  const bin = process.env.CXSYNC || path.join(__dirname, "../../target/debug/cxsync");
  for (const c of cases) {
    const js = await evaluateJs(c);
    if (record) {
      c.jsonataJs = js;
      continue;
    }
    const problems = [];
    if (!same(js, c.jsonataJs)) problems.push(`recorded ${JSON.stringify(c.jsonataJs)} but jsonata-js now gives ${JSON.stringify(js)}`);
    if (fs.existsSync(bin)) {
      const rs = evaluateCxsync(c, bin);
      if (!same(rs, js)) problems.push(`cxsync eval gives ${JSON.stringify(rs)}, jsonata-js ${JSON.stringify(js)}`);
    }
    if (problems.length) {
      failed++;
      console.log(`FAIL ${c.name}\n  ${problems.join("\n  ")}`);
    } else {
      console.log(`ok   ${c.name}`);
    }
  }
  if (record) {
    fs.writeFileSync(CASES, JSON.stringify(cases, null, 2) + "\n");
    console.log(`recorded ${cases.length} cases with jsonata ${require("jsonata/package.json").version}`);
  } else {
    console.log(`${cases.length - failed} passed, ${failed} failed`);
    process.exitCode = failed ? 1 : 0;
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
