// $now() and $millis() frozen at one instant, as cxsync freezes them: `$now()` is the ISO text
// with milliseconds, `$now(picture, tz)` is `$fromMillis($millis(), picture, tz)`. Used by
// parity.js and corpus.js.
"use strict";
const jsonata = require("jsonata");

function frozenClock(instant) {
  const ms = Date.parse(instant);
  const iso = new Date(ms).toISOString();
  const fromMillis = jsonata("$fromMillis($ms, $p, $tz)");
  return {
    millis: () => ms,
    now: (picture, tz) =>
      picture === undefined && tz === undefined
        ? iso
        : fromMillis.evaluate({}, { ms, p: picture, tz }),
  };
}

module.exports = { frozenClock };
