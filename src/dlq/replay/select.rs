//! What a replay's filters selected, in words: a `--rule` or `--event-type` that matches no
//! record is almost always a typo, and a replay job that replays nothing must not look green;
//! and whether the records are the spec's at all ([`foreign_channels`]).

use std::collections::BTreeSet;

use crate::dlq::inspect::{Filter, Found};
use crate::dlq::record::Provenance;
use crate::spec::Spec;

/// One note per filter value no record has, naming what the DLQ does have; and one when the
/// filters together select none of the records. Empty: the filters select something (or none
/// was given).
pub fn unmatched(filter: &Filter, records: &[Found], spec: &Spec, selected: usize) -> Vec<String> {
    let mut notes = Vec::new();
    let have = |pick: fn(&Found) -> &str| -> BTreeSet<&str> { records.iter().map(pick).collect() };
    let rules = have(|f| f.record.rule_id.as_str());
    let types = have(|f| f.record.event_type.as_str());
    let list = |s: &BTreeSet<&str>| {
        if s.is_empty() {
            "the DLQ holds no records".to_string()
        } else {
            format!(
                "the DLQ has {}",
                s.iter().copied().collect::<Vec<_>>().join(", ")
            )
        }
    };
    for r in filter.rules.iter().filter(|r| !rules.contains(r.as_str())) {
        let spec_too = if spec.raw.rules.iter().any(|x| &x.id == r) {
            ""
        } else {
            "; the spec has no such rule either"
        };
        notes.push(format!(
            "no record has rule `{r}` ({}{spec_too})",
            list(&rules)
        ));
    }
    for t in filter
        .event_types
        .iter()
        .filter(|t| !types.contains(t.as_str()))
    {
        notes.push(format!("no record has event type `{t}` ({})", list(&types)));
    }
    let filtered = filter.since.is_some()
        || filter.until.is_some()
        || !filter.reasons.is_empty()
        || !filter.event_types.is_empty()
        || !filter.rules.is_empty();
    if notes.is_empty() && filtered && selected == 0 && !records.is_empty() {
        notes.push(format!(
            "the filters select none of the {} record(s)",
            records.len()
        ));
    }
    notes
}

/// The endpoints, other than the spec's channel's (`destinationUri` after its `--env` overlay,
/// as [`Provenance::of`] records it), that `records` were being delivered to, each with the environments they
/// name and its count, in endpoint order. A channel name an overlay keeps can front another
/// CRM (production and staging); records written before cxsync recorded a destination are
/// not counted. Empty: every record was meant for the spec's endpoint.
pub fn foreign_destinations<'a>(
    records: impl IntoIterator<Item = &'a Found>,
    spec: &Spec,
) -> Vec<ForeignDestination> {
    let ours = Provenance::of(spec, None).destination;
    let mut out: std::collections::BTreeMap<&str, ForeignDestination> = Default::default();
    for f in records {
        let Some(d) = f.record.destination.as_deref().filter(|d| *d != ours) else {
            continue;
        };
        let e = out.entry(d).or_insert_with(|| ForeignDestination {
            destination: d.to_string(),
            environments: Default::default(),
            records: 0,
        });
        e.records += 1;
        e.environments.insert(f.record.environment.clone());
    }
    out.into_values().collect()
}

/// Records meant for another endpoint than the spec's ([`foreign_destinations`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignDestination {
    pub destination: String,
    /// The environments the records name (`None`: the base spec).
    pub environments: std::collections::BTreeSet<Option<String>>,
    pub records: usize,
}

/// The channels, other than the spec's (`channel.name` after its `--env` overlay), that
/// `records` were dead-lettered on, each with its count, in name order. A record carries its
/// channel; a spec of another integration (or environment) would send its events to another
/// CRM. Empty: every record is the spec's.
pub fn foreign_channels<'a>(
    records: impl IntoIterator<Item = &'a Found>,
    spec: &Spec,
) -> Vec<(String, usize)> {
    let mut out: std::collections::BTreeMap<&str, usize> = Default::default();
    for f in records {
        if f.record.channel != spec.raw.channel.name {
            *out.entry(f.record.channel.as_str()).or_default() += 1;
        }
    }
    out.into_iter().map(|(c, n)| (c.to_string(), n)).collect()
}
