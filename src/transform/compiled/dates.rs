//! The date calls CRM mappings make most, natively: `$toMillis(s)` of an ISO 8601 timestamp in
//! the common full form, and `$fromMillis(ms)` / `$fromMillis(ms, picture)` with a literal
//! picture of fixed-width numeric components (`[Y0001]-[M01]-[D01] [H01]:[m01]:[s01]`) and no
//! timezone. Each otherwise costs an engine call (an object built, an evaluation, the picture
//! analysed again): 7 µs of a 10 µs mapping. Anything outside these forms — another picture,
//! a timezone, a year outside 0–9999, a fraction of a millisecond, a partial timestamp — goes
//! to the engine call as before, so the engine's own code answers it.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// One piece of a date picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Part {
    Lit(Box<str>),
    /// `[Y0001]`
    Year,
    /// `[M01]`
    Month,
    /// `[D01]`
    Day,
    /// `[H01]`
    Hour,
    /// `[m01]`
    Minute,
    /// `[s01]`
    Second,
    /// `[f001]`
    Milli,
}

/// jsonata-js's default picture, `[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]`, in
/// UTC (where `[Z01:01t]` is `Z`).
pub(super) fn iso_picture() -> Vec<Part> {
    use Part::*;
    let lit = |s: &str| Lit(s.into());
    vec![
        Year,
        lit("-"),
        Month,
        lit("-"),
        Day,
        lit("T"),
        Hour,
        lit(":"),
        Minute,
        lit(":"),
        Second,
        lit("."),
        Milli,
        lit("Z"),
    ]
}

/// The picture's parts, when it has only the components above and literal text without
/// brackets (`[[`/`]]` escapes and every other component are the engine's).
pub(super) fn picture(text: &str) -> Option<Vec<Part>> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            parts.push(match &after[..end] {
                "Y0001" => Part::Year,
                "M01" => Part::Month,
                "D01" => Part::Day,
                "H01" => Part::Hour,
                "m01" => Part::Minute,
                "s01" => Part::Second,
                "f001" => Part::Milli,
                _ => return None,
            });
            rest = &after[end + 1..];
        } else {
            let end = rest.find(['[', ']']).unwrap_or(rest.len());
            if rest[end..].starts_with(']') {
                return None;
            }
            parts.push(Part::Lit(rest[..end].into()));
            rest = &rest[end..];
        }
    }
    Some(parts)
}

/// `ms` formatted by `parts` in UTC; `None` (the engine decides) for a fraction of a
/// millisecond or a year outside 0–9999.
pub(super) fn format(ms: f64, parts: &[Part]) -> Option<String> {
    if ms.fract() != 0.0 || ms.abs() > 8.64e15 {
        return None;
    }
    let t = DateTime::<Utc>::from_timestamp_millis(ms as i64)?;
    if !(0..=9999).contains(&t.year()) {
        return None;
    }
    let mut out = String::with_capacity(32);
    for p in parts {
        use std::fmt::Write;
        let _ = match p {
            Part::Lit(s) => {
                out.push_str(s);
                Ok(())
            }
            Part::Year => write!(out, "{:04}", t.year()),
            Part::Month => write!(out, "{:02}", t.month()),
            Part::Day => write!(out, "{:02}", t.day()),
            Part::Hour => write!(out, "{:02}", t.hour()),
            Part::Minute => write!(out, "{:02}", t.minute()),
            Part::Second => write!(out, "{:02}", t.second()),
            Part::Milli => write!(out, "{:03}", t.timestamp_subsec_millis()),
        };
    }
    Some(out)
}

/// `$toMillis(s)` as jsonata-js computes it ([`crate::transform::dates::js_to_millis`], the one
/// definition both paths use); `None` where that is not a finite number of milliseconds (NaN,
/// an error), which the engine's call then reports.
pub(super) fn to_millis(s: &str) -> Option<f64> {
    crate::transform::dates::js_to_millis(s)
        .ok()
        .filter(|x| x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_of_fixed_width_numbers_are_native_and_others_are_not() {
        let p = picture("[Y0001]-[M01]-[D01] [H01]:[m01]:[s01]").unwrap();
        assert_eq!(
            format(1_705_327_092_400.0, &p).as_deref(),
            Some("2024-01-15 13:58:12")
        );
        assert_eq!(
            format(1_705_327_092_400.0, &iso_picture()).as_deref(),
            Some("2024-01-15T13:58:12.400Z")
        );
        for other in [
            "[Y]",
            "[H01]:[m01]]",
            "[[x",
            "[M01,2]",
            "[FNn]",
            "[Z]",
            "[h]",
        ] {
            assert_eq!(picture(other), None, "{other}");
        }
        assert_eq!(format(0.5, &p), None);
        assert_eq!(format(-1e15, &p), None, "year -29719");
    }

    #[test]
    fn iso_timestamps_in_full_are_read_natively() {
        assert_eq!(to_millis("2024-01-15T13:58:12Z"), Some(1_705_327_092_000.0));
        assert_eq!(
            to_millis("2024-01-15T13:58:12.4Z"),
            Some(1_705_327_092_400.0)
        );
        assert_eq!(
            to_millis("2024-01-15T13:58:12.4567"),
            Some(1_705_327_092_456.0)
        );
        assert_eq!(
            to_millis("2024-01-15T14:58:12+01:00"),
            Some(1_705_327_092_000.0)
        );
        assert_eq!(
            to_millis("2024-01-15T08:28:12-0530"),
            Some(1_705_327_092_000.0)
        );
        // jsonata-js's (node 20's `Date.parse`) answers for a date alone and a rolled-over day.
        assert_eq!(to_millis("2024-01-15"), Some(1_705_276_800_000.0));
        assert_eq!(to_millis("2024-02-30T00:00:00Z"), Some(1_709_251_200_000.0));
        for other in [
            "2024-01-15T13:58",
            "2024-01-15T13:58:12.Z",
            "2024-01-15T13:58:12+1",
            "2024-01-15 13:58:12Z",
            "２024-01-15T13:58:12Z",
        ] {
            assert_eq!(to_millis(other), None, "{other}");
        }
    }

    /// The native forms give the engine's own answers (the engine path never uses them).
    #[test]
    fn native_dates_equal_the_engine() {
        use crate::transform::Transform;
        use serde_json::json;
        let expr = "{'iso': $fromMillis(ms), 'sn': $fromMillis(ms, '[Y0001]-[M01]-[D01] [H01]:[m01]:[s01]'), \
                    'f': $fromMillis(ms, '[H01]:[m01]:[s01].[f001] on [D01]/[M01]'), 'back': $toMillis(ts)}";
        let compiled = Transform::compile(expr).unwrap();
        assert!(compiled.is_compiled());
        let engine = Transform::compile_engine_only(expr).unwrap();
        let now = crate::transform::default_now();
        for ms in [
            0.0,
            1.0,
            -1.0,
            951_782_400_000.0,
            1_705_327_092_400.0,
            253_402_300_799_999.0,
            -62_167_219_200_000.0,
            1.5,
        ] {
            for ts in [
                "2024-01-15T13:58:12.4Z",
                "2024-02-29T23:59:59.999+05:30",
                "1999-12-31T23:59:59-0800",
                "2024-01-15T13:58:12.123456789Z",
                "2024-01-15",
                "2023-02-29T00:00:00Z",
            ] {
                let ev = json!({"ms": ms, "ts": ts});
                assert_eq!(compiled.eval(&ev, now), engine.eval(&ev, now), "{ev}");
            }
        }
    }
}
