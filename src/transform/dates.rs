//! `$toMillis(s)` without a picture as jsonata-js 2.2.2 computes it: its ISO 8601 test
//! (`^\d{4}(-[01]\d)?(-[0-3]\d)?(T[0-2]\d:[0-5]\d:[0-5]\d)?(\.\d+)?([+-][0-2]\d:?[0-5]\d|Z)?$`,
//! else D3110), then JavaScript's `Date.parse` (V8, node 20). Both paths call [`js_to_millis`].
//!
//! What `Date.parse` does with the text the test lets through, as measured on node 20:
//! - a day past the month's end rolls over (`2024-02-30` is 1 March), a day of `00` or past
//!   `31`, a month outside 1–12, an hour past 24, `24:00:00` other than exactly that, an offset
//!   of 24 hours or more: NaN (jsonata-js returns NaN, printed `null`);
//! - `24:00:00` is midnight of the next day; fraction digits past the third are dropped;
//! - a date-time without an offset is read in the host's time zone; cxsync reads it as UTC (the
//!   zone of every machine it compares with; the hub's zone is not known);
//! - an offset reads alike with or without its colon (`-0330`, `-03:30`);
//! - a fraction without a time (`2024.5`) and an offset other than `Z` without a time go to
//!   V8's legacy parser, whose answers follow no standard (`2024.5` is 1 May): refused (D3110,
//!   with the reason), never guessed.

/// jsonata-js's `$toMillis(s)`: `Ok` milliseconds (NaN where `Date.parse` gives NaN), or
/// `Err("CODE: message")`.
pub fn js_to_millis(s: &str) -> Result<f64, String> {
    let not_iso = || {
        Err(format!(
            "D3110: The timestamp {} is not ISO 8601: $toMillis without a picture reads \
             YYYY[-MM[-DD]][THH:mm:ss[.fff]][Z|±HH:mm]",
            serde_json::Value::String(s.to_string())
        ))
    };
    let legacy = |what: &str| {
        Err(format!(
            "D3110: The timestamp {} has {what}, which jsonata-js hands to V8's legacy date \
             parser (answers that follow no standard); write YYYY-MM-DDTHH:mm:ss[.fff]±HH:mm",
            serde_json::Value::String(s.to_string())
        ))
    };
    let b = s.as_bytes();
    let digits = |i: usize, n: usize| -> Option<u32> {
        let d = b.get(i..i + n)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| d.iter().fold(0, |a, &c| a * 10 + u32::from(c - b'0')))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let Some(year) = digits(0, 4) else {
        return not_iso();
    };
    let mut i = 4;
    // `(-[01]\d)?(-[0-3]\d)?`: a lone `-NN` is read by Date.parse as the month.
    let mut parts = Vec::new();
    while parts.len() < 2 && at(i, b'-') {
        match digits(i + 1, 2) {
            Some(n)
                if parts.is_empty() && b[i + 1] <= b'1'
                    || !parts.is_empty() && b[i + 1] <= b'3' =>
            {
                parts.push(n);
                i += 3;
            }
            Some(n) if parts.is_empty() && b[i + 1] <= b'3' => {
                // The regex's day group with no month before it: `2024-35`.
                parts.push(n);
                i += 3;
                break;
            }
            _ => return not_iso(),
        }
    }
    let (month, day) = (
        parts.first().copied().unwrap_or(1),
        parts.get(1).copied().unwrap_or(1),
    );
    let mut time = None;
    if at(i, b'T') {
        let (Some(h), true, Some(m), true, Some(sec)) = (
            digits(i + 1, 2).filter(|_| b[i + 1] <= b'2'),
            at(i + 3, b':'),
            digits(i + 4, 2).filter(|_| b[i + 4] <= b'5'),
            at(i + 6, b':'),
            digits(i + 7, 2).filter(|_| b[i + 7] <= b'5'),
        ) else {
            return not_iso();
        };
        time = Some((h, m, sec));
        i += 9;
    }
    let mut fraction: Option<(u32, bool)> = None;
    if at(i, b'.') {
        let n = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return not_iso();
        }
        let take = n.min(3);
        let ms = digits(i + 1, take).unwrap_or(0) * 10u32.pow(3 - take as u32);
        let zero = b[i + 1..i + 1 + n].iter().all(|&c| c == b'0');
        fraction = Some((ms, zero));
        i += 1 + n;
    }
    let offset: Option<(i64, bool)> = match &b[i..] {
        [] => None,
        [b'Z'] => Some((0, true)),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            // With or without the colon alike (node 20).
            let (h, m) = match rest {
                [h1, _, b':', m1, _] if *h1 <= b'2' && *m1 <= b'5' => {
                    (digits(i + 1, 2), digits(i + 4, 2))
                }
                [h1, _, m1, _] if *h1 <= b'2' && *m1 <= b'5' => {
                    (digits(i + 1, 2), digits(i + 3, 2))
                }
                _ => return not_iso(),
            };
            let (Some(h), Some(m)) = (h, m) else {
                return not_iso();
            };
            let o = i64::from(h * 60 + m);
            if h > 23 {
                return Ok(f64::NAN);
            }
            Some((if *sign == b'-' { -o } else { o }, false))
        }
        _ => return not_iso(),
    };
    if time.is_none() {
        if fraction.is_some() {
            return legacy("a fraction without a time");
        }
        if matches!(offset, Some((_, false))) {
            return legacy("an offset without a time");
        }
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Ok(f64::NAN);
    }
    let (h, m, sec) = time.unwrap_or((0, 0, 0));
    let (ms, zero_fraction) = fraction.unwrap_or((0, true));
    if h > 24 || h == 24 && (m != 0 || sec != 0 || !zero_fraction) {
        return Ok(f64::NAN);
    }
    let days = days_from_civil(i64::from(year), month) + i64::from(day) - 1;
    let t = days * 86_400_000
        + i64::from(h) * 3_600_000
        + i64::from(m) * 60_000
        + i64::from(sec) * 1000
        + i64::from(ms)
        - offset.map_or(0, |o| o.0) * 60_000;
    Ok(t as f64)
}

/// Days from 1970-01-01 to the first of `month` of `year` (proleptic Gregorian).
fn days_from_civil(year: i64, month: u32) -> i64 {
    let (y, m) = if month <= 2 {
        (year - 1, i64::from(month) + 9)
    } else {
        (year, i64::from(month) - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_text_is_read_as_node_20s_date_parse_reads_it() {
        // Date.parse on node v20.20.2, for text jsonata-js's ISO test lets through.
        for (s, ms) in [
            ("2024", 1704067200000.0),
            ("2024-01", 1704067200000.0),
            ("2024-01-01", 1704067200000.0),
            ("2024-02-29", 1709164800000.0),
            ("2024-02-30", 1709251200000.0),
            ("2024-02-31", 1709337600000.0),
            ("2023-02-29", 1677628800000.0),
            ("2024-04-31", 1714521600000.0),
            ("2024-01-01T24:00:00Z", 1704153600000.0),
            ("2024-01-01T00:00:00+23:59", 1703980860000.0),
            ("2024-01-01T00:00:00-0330", 1704079800000.0),
            ("2024-01-01T00:00:00+0530", 1704047400000.0),
            ("2018-02-01T09:42:13.123+0000", 1517478133123.0),
            ("2018-02-31T09:42:13.1-0330", 1520082733100.0),
            ("2018-02-01T09:42:13.123456+0530", 1517458333123.0),
            ("2024-01-01T24:00:00.000+0100", 1704150000000.0),
            ("2024-01-01Z", 1704067200000.0),
            ("2024Z", 1704067200000.0),
            ("2024-01-01T00:00:00.1234Z", 1704067200123.0),
            ("2024-01-01T00:00:00.5", 1704067200500.0),
            ("2024-01-01T00:00:00", 1704067200000.0),
            ("0000-01-01", -62167219200000.0),
            ("1969-12-31T23:59:59.999Z", -1.0),
        ] {
            assert_eq!(js_to_millis(s), Ok(ms), "{s}");
        }
        for s in [
            "2024-01-32",
            "2024-01-00",
            "2024-00-01",
            "2024-19-01",
            "2024-01-01T24:00:01Z",
            "2024-01-01T25:00:00Z",
            "2024-01-01T00:00:00+24:00",
            "2024-01-01T00:00:00+2400",
        ] {
            assert!(js_to_millis(s).unwrap().is_nan(), "{s}");
        }
        for s in ["2024.5", "2024-01-01.5", "2024-01-01+05:00"] {
            assert!(js_to_millis(s).unwrap_err().contains("legacy"), "{s}");
        }
        for s in [
            "2024-01-01T00:00:00.Z",
            "24-01-01",
            "2024-01-01 00:00:00Z",
            "",
            "x",
        ] {
            assert!(js_to_millis(s).unwrap_err().starts_with("D3110"), "{s}");
        }
    }
}
