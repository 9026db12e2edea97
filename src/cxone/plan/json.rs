//! `cxsync plan --json`: the plan as a stable, versioned document (like `terraform show -json`),
//! its JSON Schema (`schemas/plan.v1.json`, generated from these types; a test fails on drift),
//! and the exit codes it implies.
//!
//! Stability: `formatVersion` is 1. Fields may be added within a version; a change that would
//! break a reader (a field removed, renamed or retyped) bumps it.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::{Conflict, FieldChange, Kind, Op, OwnerChange, Plan, Reason, Summary, Unmanaged};
use crate::cxone::behaviour::Difference;

/// The format version this cxsync writes.
pub const FORMAT_VERSION: u32 = 1;

/// Where the schema is checked in.
pub const SCHEMA_PATH: &str = "schemas/plan.v1.json";

/// `cxsync plan --json`: what apply would do to the Event Hub, in order.
///
/// Exit codes (`exitCode`, `detailedExitCode`): `plan` exits 0 with no changes, 1 with changes
/// pending, 2 on error, including a plan with `conflicts` (which is printed, then refused).
/// `plan --detailed-exitcode` follows terraform: 0 no changes, 2 changes, 1 error.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "cxsync plan v1")]
pub struct Document {
    /// Format version (1). Fields may be added within a version; a breaking change bumps it.
    #[schemars(range(min = 1, max = 1))]
    pub format_version: u32,
    /// The cxsync that wrote it.
    pub cxsync_version: String,
    /// The Event Hub API base URL planned against.
    pub hub: String,
    /// Who the spec's objects belong to.
    pub owner: OwnerDoc,
    /// Whether apply would send any call (`calls` is not empty).
    pub has_changes: bool,
    /// False when `conflicts` is not empty: apply refuses the plan (pass `--adopt` to take the
    /// objects over).
    pub applicable: bool,
    /// The exit code of `plan` for this plan: 0 no changes, 1 changes pending, 2 when not
    /// applicable.
    #[schemars(range(min = 0, max = 2))]
    pub exit_code: u8,
    /// The exit code of `plan --detailed-exitcode` (terraform's): 0 no changes, 2 changes, 1 when
    /// not applicable.
    #[schemars(range(min = 0, max = 2))]
    pub detailed_exit_code: u8,
    /// Actions by kind.
    pub summary: Summary,
    /// Every object the spec touches, in apply order: channel, retry policy, rules in spec order,
    /// removals.
    pub resource_changes: Vec<ResourceChange>,
    /// The API calls apply sends, in order (the writing `resourceChanges`). A channel create
    /// answered 409 (made since the plan read it) is followed by the `PUT` that adopts it.
    pub calls: Vec<Call>,
    /// Objects owned by another spec or environment that the plan would change.
    pub conflicts: Vec<Conflict>,
    /// Live rules routing to the channel that the spec does not declare, left live (no
    /// `--prune`): they keep receiving events. Not changes: apply does not touch them.
    pub unmanaged: Vec<Unmanaged>,
    /// With `--behaviour`: the fixtures whose match status or payload changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behaviour: Option<Vec<Difference>>,
}

/// Owner of the spec's objects.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnerDoc {
    /// The spec's `name`.
    pub spec: String,
    /// The `--env` overlay; `null` for the base spec.
    pub env: Option<String>,
    /// The value of the channel's `X-Cxsync-Owner` header.
    pub marker: String,
}

/// One object and what happens to it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceChange {
    pub kind: Kind,
    /// Channel name or live rule id.
    pub name: String,
    /// The spec's id of a rule (`name` is `specId--ENV` in an environment overlay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec_id: Option<String>,
    pub action: Op,
    /// The call apply sends for it; absent for `unchanged` and `deferred`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<Call>,
    /// Rollout stage of a rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<u32>,
    /// Why a rule is removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The ownership this action takes (`adopt`, or the first write to an unowned channel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<OwnerChange>,
    /// The live object without server-set fields; secrets are `{"sensitive": true}`. `null` when
    /// it does not exist.
    pub before: Option<Value>,
    /// The object after apply, secrets as `{"sensitive": true}`; `null` for a removal.
    pub after: Option<Value>,
    /// The fields that differ, typed (numbers are numbers).
    pub fields: Vec<FieldChange>,
}

/// One API call.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    pub method: String,
    pub path: String,
    pub kind: Kind,
    pub name: String,
}

impl Document {
    /// The document of `plan` against `hub`.
    pub fn new(plan: &Plan, hub: &str, behaviour: Option<Vec<Difference>>) -> Document {
        let call = |a: &super::Action| Call {
            method: a.method.to_string(),
            path: a.path.clone(),
            kind: a.kind,
            name: a.name.clone(),
        };
        let applicable = plan.conflicts.is_empty();
        Document {
            format_version: FORMAT_VERSION,
            cxsync_version: env!("CARGO_PKG_VERSION").to_string(),
            hub: hub.trim_end_matches('/').to_string(),
            owner: OwnerDoc {
                spec: plan.owner.spec.clone(),
                env: plan.owner.env.clone(),
                marker: plan.owner.marker(),
            },
            has_changes: plan.has_changes(),
            applicable,
            exit_code: exit_code(applicable.then(|| plan.has_changes()), false),
            detailed_exit_code: exit_code(applicable.then(|| plan.has_changes()), true),
            summary: plan.summary(),
            resource_changes: plan
                .actions
                .iter()
                .map(|a| ResourceChange {
                    kind: a.kind,
                    name: a.name.clone(),
                    spec_id: a.spec_id.clone(),
                    action: a.op,
                    call: a.writes().then(|| call(a)),
                    stage: a.stage,
                    reason: a.reason,
                    owner: a.owner.clone(),
                    before: a.before(),
                    after: a.after(),
                    fields: a.changes.clone(),
                })
                .collect(),
            calls: plan
                .actions
                .iter()
                .filter(|a| a.writes())
                .map(call)
                .collect(),
            conflicts: plan.conflicts.clone(),
            unmanaged: plan.unmanaged.clone(),
            behaviour,
        }
    }
}

/// The exit code of `plan` (`detailed`: with `--detailed-exitcode`) for a plan that has
/// `changes` (`None`: an error, or a plan with conflicts). One function for the command and the
/// document, so the two cannot disagree.
pub fn exit_code(changes: Option<bool>, detailed: bool) -> u8 {
    match (changes, detailed) {
        (Some(false), _) => 0,
        (Some(true), false) | (None, true) => 1,
        (Some(true), true) | (None, false) => 2,
    }
}

/// The JSON Schema of [`Document`], as checked in at [`SCHEMA_PATH`].
pub fn schema() -> Value {
    serde_json::to_value(schemars::schema_for!(Document)).unwrap_or(Value::Null)
}

/// The schema as the checked-in file's bytes.
pub fn schema_pretty() -> String {
    crate::compile::to_pretty(&schema())
}
