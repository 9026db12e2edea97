// Transforms N events with jsonata-js, generated exactly as `cxsync sim` generates them (the
// spec's fixtures as templates, fresh event.id / interaction.id / timestamps), for the
// benchmark in benches/sim.rs. Usage: node benches/js/sim_transform.js N
// Needs the `jsonata` package (benches/js/node_modules, or NODE_PATH).
'use strict';
const fs = require('fs');
const path = require('path');
const jsonata = require('jsonata');

const root = path.join(__dirname, '..', '..');
const n = Number(process.argv[2] || 1000);
const dir = path.join(root, 'fixtures', 'events');
const templates = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
  .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
const expr = jsonata(fs.readFileSync(path.join(root, 'specs', 'transforms', 'interaction_ended.jsonata'), 'utf8'));
const epoch = Date.parse('2024-01-15T00:00:00Z');
const day = 24 * 3600 * 1000;

(async () => {
  let matched = 0;
  for (let k = 0; k < n; k++) {
    const ev = structuredClone(templates[k % templates.length]);
    const at = Math.floor(((k + 0.5) / n) * day);
    ev.event.id = 'sim-' + String(k).padStart(7, '0');
    ev.event.occurredAt = new Date(epoch + at).toISOString();
    ev.interaction.id = 700000000 + k;
    ev.interaction.endedAt = epoch + at;
    ev.interaction.startedAt = epoch + at - 60000 - ((k * 7919) % 900000);
    const type = ev.interaction.channel && ev.interaction.channel.type;
    if (ev.event.type === 'interaction.ended' && ['voice', 'webchat', 'email'].includes(type)) {
      const out = await expr.evaluate(ev);
      if (out) matched++;
    }
  }
  const cpu = process.cpuUsage();
  // matched events, then CPU milliseconds (user + system) of the whole node process.
  process.stdout.write(`${matched} ${Math.round((cpu.user + cpu.system) / 1000)}\n`);
})();
