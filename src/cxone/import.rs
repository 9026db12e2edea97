//! `cxsync import`: a live channel, its retry policy and the rules routing to it, written back as a
//! spec folder — the reverse of `compile`. Pure: the live objects are read by the caller and the
//! result is a list of files; the CLI writes them (atomically) and checks the written spec with
//! the loader and the plan, the same code `validate` and `plan` run.
//!
//! What a spec cannot hold is never guessed silently: secrets become `${env:…}` placeholders (their
//! values are never read, let alone written), the guide's JSONata dialect is rewritten to the
//! standard form, and every live detail the spec cannot reproduce is a [`Imported::notes`] line
//! (and shows as a change when the spec is planned).

use std::fmt::Write as _;

use serde_json::Value;

use super::plan::{is_secret_name, rule_channel};
use crate::compile::{Owner, ENV_ID_SEPARATOR, OWNER_HEADER};
use crate::spec::checks::{is_environment_name, is_windows_device_name};

/// The guide's idempotency header, used when the live objects name none.
const DEFAULT_IDEMPOTENCY_HEADER: &str = "X-Idempotency-Key";

/// The live objects of one channel.
#[derive(Debug, Clone)]
pub struct Source {
    /// The channel, as `GET /channels/{name}` returns it.
    pub channel: Value,
    /// Its retry policy, if it has one.
    pub retry_policy: Option<Value>,
    /// `(live id, rule)` of the rules routing to the channel, in id order.
    pub rules: Vec<(String, Value)>,
    /// Where they were read from (for the README).
    pub hub: String,
}

/// Import options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The environment the live objects are (`--env`): rule ids lose their `--ENV` suffix and the
    /// spec declares the overlay. Default: the channel's owner marker says, else none.
    pub env: Option<String>,
    /// The spec's `name` (`--name`). Default: the owner marker's, else the channel's name.
    pub name: Option<String>,
}

/// The spec folder an import writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// Who the written spec is.
    pub owner: Owner,
    /// `(path relative to the folder, contents)`: `spec.yaml`, `transforms/*.jsonata`,
    /// `README.md`, `fixtures/<rule>/.gitkeep`.
    pub files: Vec<(String, String)>,
    /// Environment variables the spec reads (secret placeholders), with what each holds.
    pub env_vars: Vec<(String, String)>,
    /// What differs from the live objects, or could not be expressed, one sentence each.
    pub notes: Vec<String>,
    /// How many rules were imported.
    pub rules: usize,
}

/// `live` with every value the import turned into a placeholder replaced by `stand_in`: the
/// import's own check compares everything else (the secrets are compared by `plan` once the
/// placeholders hold the live values).
pub fn with_stand_ins(live: &Value, stand_in: &str) -> Value {
    let mut ch = live.clone();
    if let Some(a) = ch.get_mut("authentication").and_then(Value::as_object_mut) {
        for k in ["clientSecret", "token"] {
            if let Some(v) = a.get_mut(k) {
                if !v.as_str().is_some_and(is_vault_ref) {
                    *v = Value::String(stand_in.to_string());
                }
            }
        }
    }
    if let Some(h) = ch.get_mut("headers").and_then(Value::as_object_mut) {
        for (k, v) in h.iter_mut() {
            if is_secret_name(k) {
                *v = Value::String(stand_in.to_string());
            }
        }
    }
    if let Some(Value::String(u)) = ch.get_mut("destinationUri") {
        *u = url_stand_ins(u, stand_in);
    }
    ch
}

/// `url` with each credential in it (the user-info password, a credential-named query value:
/// `spec::secret::url_credentials`) replaced by an `${env:PREFIX_WHAT}` placeholder, recorded in
/// `env_vars`.
fn url_placeholders(
    url: &str,
    prefix: &str,
    field: &str,
    env_vars: &mut Vec<(String, String)>,
) -> String {
    crate::spec::secret::replace_url_credentials(url, |what| {
        let var = format!("{prefix}_{}", env_slug(what));
        let about = match what {
            "password" => format!("the password in `{field}`"),
            q => format!("the `{q}` query parameter of `{field}`"),
        };
        if !env_vars.iter().any(|(v, _)| *v == var) {
            env_vars.push((var.clone(), about));
        }
        format!("${{env:{var}}}")
    })
}

/// `url` with its credentials replaced by `stand_in`, as [`url_placeholders`] made them.
fn url_stand_ins(url: &str, stand_in: &str) -> String {
    crate::spec::secret::replace_url_credentials(url, |_| stand_in.to_string())
}

/// The live retry policy with the credentials of its `alertEndpoint` replaced by `stand_in`
/// (see [`with_stand_ins`]).
pub fn policy_with_stand_ins(live: &Value, stand_in: &str) -> Value {
    let mut p = live.clone();
    if let Some(Value::String(a)) = p.pointer_mut("/deadLetterQueue/alertEndpoint") {
        *a = url_stand_ins(a, stand_in);
    }
    p
}

/// The file name of the written spec.
pub const SPEC_FILE: &str = "spec.yaml";

/// Builds the spec folder of `src`. Errors (exit 2) are what makes a spec impossible: a channel
/// name the spec format refuses, an owner marker that disagrees with `--env`/`--name`.
pub fn import(src: &Source, opts: &Options) -> Result<Imported, String> {
    let ch = &src.channel;
    let name = str_at(ch, "name").ok_or("the live channel has no `name`")?;
    if !is_spec_id(name) {
        return Err(format!(
            "channel name `{}` cannot be written in a spec (names are 1–128 letters, digits, \
             `_`, `.`, `-`); rename it on the hub first",
            name.escape_debug()
        ));
    }
    let owner = owner_of(ch, name, opts)?;
    let mut notes = Vec::new();
    let mut env_vars = Vec::new();
    let slug = env_slug(name);

    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Imported by `cxsync import --channel {name}{}` from the Event Hub at {}.\n\
         # Secrets are ${{env:…}} placeholders: set them before `validate`, `plan` or `apply`.",
        owner
            .env
            .as_ref()
            .map(|e| format!(" --env {e}"))
            .unwrap_or_default(),
        src.hub
    );
    y.push_str("version: 1\n");
    let _ = writeln!(y, "name: {}", scalar(&owner.spec));
    let _ = writeln!(
        y,
        "description: {}",
        scalar(&format!("Imported from channel {name}."))
    );

    // The channel.
    y.push_str("\nchannel:\n");
    let _ = writeln!(y, "  name: {}", scalar(name));
    if let Some(t) = str_at(ch, "type") {
        let _ = writeln!(y, "  type: {}", scalar(t));
    }
    match str_at(ch, "destinationUri") {
        Some(u) => {
            let u = url_placeholders(u, &format!("{slug}_URI"), "destinationUri", &mut env_vars);
            let _ = writeln!(y, "  destinationUri: {}", scalar(&u));
        }
        None => notes.push("the channel has no `destinationUri`; write one in the spec".into()),
    }
    write_auth(
        &mut y,
        ch.get("authentication"),
        &slug,
        &mut env_vars,
        &mut notes,
    );
    let policy = src.retry_policy.as_ref();
    let idem_header = policy
        .and_then(|p| str_at(p, "idempotencyHeader"))
        .map(str::to_string)
        .or_else(|| {
            headers(ch)
                .find(|(k, _)| k.eq_ignore_ascii_case(DEFAULT_IDEMPOTENCY_HEADER))
                .map(|(k, _)| k.to_string())
        })
        .unwrap_or_else(|| DEFAULT_IDEMPOTENCY_HEADER.to_string());
    let mut header_key = None;
    let mut hs = Vec::new();
    for (k, v) in headers(ch) {
        if k.eq_ignore_ascii_case(&idem_header) {
            header_key = v.as_str().map(str::to_string);
        } else if k.eq_ignore_ascii_case(OWNER_HEADER) {
            // Written by compile from the spec's name and environment.
        } else if is_secret_name(k) {
            let var = format!("{slug}_HEADER_{}", env_slug(k));
            hs.push((k.to_string(), format!("${{env:{var}}}")));
            env_vars.push((var, format!("the `{k}` header of channel {name}")));
        } else {
            match v.as_str() {
                Some(s) if s.contains("${env:") => {
                    notes.push(format!(
                        "header `{k}` holds `${{env:…}}` text, which a spec would resolve; it is \
                         left out"
                    ));
                }
                Some(s) => hs.push((k.to_string(), s.to_string())),
                None => notes.push(format!("header `{k}` is not a string; it is left out")),
            }
        }
    }
    let plain: Vec<String> = hs
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| {
            !is_secret_name(k)
                && !["content-type", "accept", "user-agent"]
                    .contains(&k.to_ascii_lowercase().as_str())
        })
        .map(|k| format!("`{k}`"))
        .collect();
    notes.push(format!(
        "values are written as the hub holds them: only credential-named fields became \
         `${{env:…}}` placeholders (the hub does not record which values a spec took from \
         `${{env:…}}`); if `destinationUri`, `deadLetterQueue.alertEndpoint`{} holds a secret, \
         replace it with a reference before committing the spec",
        if plain.is_empty() {
            String::new()
        } else {
            format!(" or header {}", plain.join(", "))
        }
    ));
    if !hs.is_empty() {
        y.push_str("  headers:\n");
        for (k, v) in &hs {
            let _ = writeln!(y, "    {}: {}", scalar(k), scalar(v));
        }
    }
    let timeout = Needed {
        owner: "the channel",
        key: "timeoutMilliseconds",
        default: "3000",
        source: " (the guide's)",
        accept: Value::is_u64,
    };
    timeout.write(&mut y, &mut notes, ch, "  ");
    let batch_size = ch.get("batchSize").and_then(Value::as_u64).unwrap_or(1);
    for (k, default) in [("batchSize", 1), ("batchIntervalSeconds", 0)] {
        match ch.get(k).filter(|v| v.is_u64()) {
            Some(v) => {
                let _ = writeln!(y, "  {k}: {v}");
            }
            None => notes.push(format!(
                "the channel has no `{k}`; compile always sends one (the default {default}), \
                 which plan shows as added"
            )),
        }
    }

    // The idempotency key, declared once.
    let policy_key = policy.and_then(|p| str_at(p, "idempotencyKeyTemplate"));
    let key = match (header_key.as_deref(), policy_key) {
        (Some(h), Some(p)) if h != p => {
            notes.push(format!(
                "the channel's `{idem_header}` header (`{h}`) and the retry policy's \
                 `idempotencyKeyTemplate` (`{p}`) disagree, the guide's own defect: a spec \
                 declares the key once, so the header's is kept and plan shows the policy's \
                 template changing"
            ));
            h.to_string()
        }
        (Some(h), _) => h.to_string(),
        (None, Some(p)) => {
            notes.push(format!(
                "the channel has no `{idem_header}` header; compile adds it with the retry \
                 policy's template, which plan shows as added"
            ));
            p.to_string()
        }
        (None, None) => {
            notes.push(
                "no idempotency key is live; the spec declares `${interaction.id}_${event.type}` \
                 (the guide's), which plan shows as added"
                    .into(),
            );
            "${interaction.id}_${event.type}".to_string()
        }
    };
    y.push_str("\nidempotency:\n");
    let _ = writeln!(y, "  header: {}", scalar(&idem_header));
    let _ = writeln!(y, "  key: {}", scalar(&key));

    write_retry(&mut y, policy, &mut notes, &slug, &mut env_vars);
    write_crm(&mut y, batch_size, &mut notes);

    // The rules.
    let mut files = Vec::new();
    let mut rules = Vec::new();
    for (live_id, rule) in &src.rules {
        debug_assert_eq!(rule_channel(rule), Some(name));
        let Some(id) = owner.spec_rule_id(live_id) else {
            notes.push(format!(
                "rule {} routes to the channel but its id does not end in \
                 `{ENV_ID_SEPARATOR}{}`, so environment {} cannot hold it: it is not imported \
                 (`plan --prune` would remove it)",
                super::plan::shown(live_id),
                owner.env.as_deref().unwrap_or_default(),
                owner.env.as_deref().unwrap_or_default(),
            ));
            continue;
        };
        if !is_spec_id(id) || is_windows_device_name(id) {
            notes.push(format!(
                "rule {} has an id a spec cannot hold (1–128 letters, digits, `_`, `.`, `-`, \
                 not starting with `.` or `-`, not ending with `.`, no Windows device name): it \
                 is not imported",
                super::plan::shown(live_id)
            ));
            continue;
        }
        rules.push((id.to_string(), rule));
    }
    y.push_str("\nrules:");
    if rules.is_empty() {
        y.push_str(" []\n");
        notes.push("no rule routes to the channel".into());
    } else {
        y.push('\n');
    }
    for (id, rule) in &rules {
        write_rule(&mut y, id, rule, &mut files, &mut notes);
    }

    if let Some(e) = &owner.env {
        y.push_str("\n# The live objects are this environment's: plan and apply with `--env ");
        y.push_str(e);
        y.push_str("`.\nenvironments:\n");
        let _ = writeln!(y, "  {e}: {{}}");
    }
    files.insert(0, (SPEC_FILE.to_string(), y));
    files.push((
        "README.md".to_string(),
        readme(src, &owner, name, &env_vars, &notes, &rules),
    ));
    for (id, _) in &rules {
        files.push((format!("fixtures/{id}/.gitkeep"), String::new()));
    }
    Ok(Imported {
        owner,
        files,
        env_vars,
        notes,
        rules: rules.len(),
    })
}

/// Who the written spec is: from the channel's owner marker, checked against the options.
fn owner_of(ch: &Value, name: &str, opts: &Options) -> Result<Owner, String> {
    if let Some(e) = &opts.env {
        if !is_environment_name(e) {
            return Err(format!(
                "--env `{}`: an environment name is 1 to 32 letters, digits, `_` or `-`",
                e.escape_debug()
            ));
        }
    }
    let marker = super::plan::owner_marker(ch);
    match marker.map(|m| (m, Owner::parse(m))) {
        Some((_, Some(o))) => {
            if opts.env.is_some() && opts.env != o.env {
                return Err(format!(
                    "channel {name} is owned by {o}; import it with {}",
                    o.env
                        .as_ref()
                        .map_or("no --env".to_string(), |e| format!("--env {e}"))
                ));
            }
            if opts.name.as_ref().is_some_and(|n| *n != o.spec) {
                return Err(format!(
                    "channel {name} is owned by {o}; a spec named otherwise would not own it \
                     (drop --name, or import it and `apply --adopt`)"
                ));
            }
            Ok(o)
        }
        Some((m, None)) => Err(format!(
            "channel {name} has an `{OWNER_HEADER}` header cxsync did not write (`{}`); remove \
             it on the hub or import another channel",
            m.escape_debug()
        )),
        None => Ok(Owner {
            spec: opts
                .name
                .clone()
                .unwrap_or_else(|| name.to_ascii_lowercase().replace('_', "-")),
            env: opts.env.clone(),
        }),
    }
}

fn write_auth(
    y: &mut String,
    auth: Option<&Value>,
    slug: &str,
    env_vars: &mut Vec<(String, String)>,
    notes: &mut Vec<String>,
) {
    y.push_str("  auth:\n");
    let Some(a) = auth.filter(|a| a.is_object()) else {
        y.push_str("    type: none\n");
        notes.push("the channel has no `authentication`; the spec says `type: none`".into());
        return;
    };
    let mut secret = |field: &str, what: &str| -> String {
        match str_at(a, field) {
            // A vault reference is not a secret: the Event Hub resolves it.
            Some(v) if is_vault_ref(v) => v.to_string(),
            _ => {
                let var = format!("{slug}_{what}");
                env_vars.push((var.clone(), format!("the channel's `{field}`")));
                // The hub returns a vault reference masked like any secret (tester #98).
                notes.push(format!(
                    "`{field}` is written as `${{env:{var}}}`: the hub shows it masked, so the \
                     import cannot tell whether the spec held a `${{VAULT_SECRET:NAME}}` reference \
                     (the guide's form); if it did, write that reference back, or \
                     `apply --rotate-secrets` would replace it in the hub with the variable's value"
                ));
                format!("${{env:{var}}}")
            }
        }
    };
    match str_at(a, "type").unwrap_or("NONE") {
        "OAUTH2_CLIENT_CREDENTIALS" => {
            y.push_str("    type: oauth2_client_credentials\n");
            for k in ["tokenEndpoint", "clientId"] {
                let v = str_at(a, k).unwrap_or_default();
                let _ = writeln!(y, "    {k}: {}", scalar(v));
            }
            let s = secret("clientSecret", "CLIENT_SECRET");
            let _ = writeln!(y, "    clientSecret: {}", scalar(&s));
            if str_at(a, "clientAuthentication") == Some("BASIC") {
                y.push_str("    clientAuth: basic\n");
            }
            if let Some(sc) = a.get("scopes").and_then(Value::as_array) {
                let _ = writeln!(y, "    scopes: {}", flow(sc));
            }
            let ttl = Needed {
                owner: "the channel",
                key: "tokenCacheTtlSeconds",
                default: "3300",
                source: "",
                accept: Value::is_u64,
            };
            ttl.write(y, notes, a, "    ");
            match a.get("retryOnTokenExpiry").and_then(Value::as_bool) {
                Some(b) => {
                    let _ = writeln!(y, "    retryOnTokenExpiry: {b}");
                }
                None => notes.push(
                    "the channel has no `retryOnTokenExpiry`; compile sends `false`, which plan \
                     shows as added"
                        .into(),
                ),
            }
        }
        "BEARER" => {
            y.push_str("    type: bearer\n");
            let s = secret("token", "TOKEN");
            let _ = writeln!(y, "    token: {}", scalar(&s));
        }
        "NONE" => y.push_str("    type: none\n"),
        other => {
            y.push_str("    type: none\n");
            notes.push(format!(
                "authentication type `{other}` is not one the guide describes; the spec says \
                 `type: none`, which plan shows as a change"
            ));
        }
    }
}

fn write_retry(
    y: &mut String,
    policy: Option<&Value>,
    notes: &mut Vec<String>,
    slug: &str,
    env_vars: &mut Vec<(String, String)>,
) {
    let Some(p) = policy else {
        notes.push(
            "the channel has no retry policy; the spec holds the guide's (plan creates it)".into(),
        );
        y.push_str(
            "\n# The channel had no retry policy: the guide's, which plan creates.\nretry:\n  \
             maxRetries: 5\n  initialDelaySeconds: 2\n  maxDelaySeconds: 60\n  \
             backoffMultiplier: 2.0\n  retryableStatusCodes: [429, 500, 502, 503, 504]\n  \
             nonRetryableStatusCodes: [400, 401, 403, 404, 422]\n\ndeadLetterQueue:\n  \
             enabled: false\n",
        );
        return;
    };
    y.push_str("\nretry:\n");
    for (k, default) in [
        ("maxRetries", "5"),
        ("initialDelaySeconds", "2"),
        ("maxDelaySeconds", "60"),
        ("backoffMultiplier", "2.0"),
    ] {
        let needed = Needed {
            owner: "the retry policy",
            key: k,
            default,
            source: "",
            accept: Value::is_number,
        };
        needed.write(y, notes, p, "  ");
    }
    match p.get("jitterEnabled").and_then(Value::as_bool) {
        Some(true) => {
            // The hub keeps a flag, not the mode: a spec's `equal` or `decorrelated` reads back
            // as `true`, and the simulator's verdict depends on the mode.
            y.push_str(
                "  jitter: full   # the Event Hub stores only jitterEnabled: true; the mode is assumed\n",
            );
            notes.push(
                "`retry.jitter: full` is assumed: the Event Hub stores only `jitterEnabled: true`, \
                 not the mode; if the spec that made it said `equal` or `decorrelated`, write that \
                 back (plan shows no change either way; `sim` verdicts differ by mode)"
                    .into(),
            );
        }
        Some(false) => y.push_str("  jitter: none\n"),
        None => notes.push(
            "the retry policy has no `jitterEnabled`; compile sends `true` (full jitter), which \
             plan shows as added"
                .into(),
        ),
    }
    match p.get("respectRetryAfterHeader").and_then(Value::as_bool) {
        Some(b) => {
            let _ = writeln!(y, "  respectRetryAfterHeader: {b}");
        }
        None => notes.push(
            "the retry policy has no `respectRetryAfterHeader` (the guide's shows none); compile \
             sends `false`, which plan shows as added"
                .into(),
        ),
    }
    for k in ["retryableStatusCodes", "nonRetryableStatusCodes"] {
        let codes = p
            .get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let _ = writeln!(y, "  {k}: {}", flow(&codes));
    }
    y.push_str("\ndeadLetterQueue:\n");
    match p.get("deadLetterQueue").filter(|d| d.is_object()) {
        Some(d) => {
            let enabled = d.get("enabled").and_then(Value::as_bool).unwrap_or(false);
            let _ = writeln!(y, "  enabled: {enabled}");
            for k in ["storageType", "bucketName", "prefix"] {
                if let Some(v) = str_at(d, k) {
                    let _ = writeln!(y, "  {k}: {}", scalar(v));
                }
            }
            if let Some(v) = str_at(d, "alertEndpoint") {
                let v = url_placeholders(v, &format!("{slug}_ALERT"), "alertEndpoint", env_vars);
                let _ = writeln!(y, "  alertEndpoint: {}", scalar(&v));
            }
            if str_at(d, "storageType").is_none() {
                notes.push(
                    "the dead-letter queue has no `storageType`; compile sends `S3`, which plan \
                     shows as added"
                        .into(),
                );
            }
        }
        None => {
            y.push_str("  enabled: false\n");
            notes.push(
                "the retry policy has no `deadLetterQueue`; the spec says `enabled: false`, which \
                 plan shows as added"
                    .into(),
            );
        }
    }
}

/// The `crm` block: the hub stores no CRM facts, but a live channel that batches
/// (`batchSize > 1`) sends JSON arrays, so its CRM evidently takes them; without
/// `acceptsArrays: true` lint (CX001) and sim (every batch refused) would report a working
/// integration as losing everything. The rest of the CRM (profile, limits, dedup) is the
/// user's to declare, and the note says so.
fn write_crm(y: &mut String, batch_size: u64, notes: &mut Vec<String>) {
    if batch_size <= 1 {
        return;
    }
    let _ = writeln!(
        y,
        "\n# The live channel batches (batchSize {batch_size}), so its CRM takes JSON arrays; the \
         Event Hub\n# stores no other CRM facts: confirm this and set crm.profile (and its limits) \
         to the CRM's.\ncrm:\n  acceptsArrays: true"
    );
    notes.push(format!(
        "the channel batches (`batchSize: {batch_size}`), so the spec declares \
         `crm.acceptsArrays: true` (a running hub's CRM takes its arrays); the hub stores no \
         other CRM facts: confirm it and set `crm.profile` (and `maxBodyBytes`, `idempotency`) \
         to the CRM's, or lint and sim assume a generic CRM"
    ));
}

fn write_rule(
    y: &mut String,
    id: &str,
    rule: &Value,
    files: &mut Vec<(String, String)>,
    notes: &mut Vec<String>,
) {
    let _ = writeln!(y, "  - id: {}", scalar(id));
    let _ = writeln!(
        y,
        "    name: {}",
        scalar(str_at(rule, "name").unwrap_or(id))
    );
    let _ = writeln!(
        y,
        "    eventType: {}",
        scalar(str_at(rule, "eventType").unwrap_or_default())
    );
    match rule.get("conditions") {
        Some(Value::Object(_)) => {}
        Some(_) => notes.push(format!(
            "rule {id}: its `conditions` is not an object; it is left out"
        )),
        None => notes.push(format!(
            "rule {id} has no `conditions`; compile sends `conditions: {{}}` (match every event \
             of the type), which plan shows as added"
        )),
    }
    if let Some(c) = rule.get("conditions").and_then(Value::as_object) {
        if !c.is_empty() {
            y.push_str("    conditions:\n");
        }
        for (path, values) in c {
            match values.as_array() {
                Some(vs) => {
                    let _ = writeln!(y, "      {}: {}", scalar(path), flow(vs));
                }
                None => notes.push(format!(
                    "rule {id}: condition `{path}` is not a list of values; it is left out"
                )),
            }
        }
    }
    let actions = rule
        .get("actions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let kinds: Vec<&str> = actions
        .iter()
        .map(|a| a.get("type").and_then(Value::as_str).unwrap_or(""))
        .collect();
    if kinds != ["TRANSFORM", "ROUTE"] {
        notes.push(format!(
            "rule {id}: its actions are [{}]; a spec's rule is one TRANSFORM then one ROUTE, \
             which plan shows as a change",
            kinds.join(", ")
        ));
    }
    let expr = actions
        .iter()
        .find(|a| a.get("type").and_then(Value::as_str) == Some("TRANSFORM"))
        .and_then(|a| str_at(a, "jsonataExpression"));
    let text = match expr {
        Some(e) => {
            let fixes = crate::transform::syntax::dialect(e).len();
            if fixes > 0 {
                y.push_str(
                    "    # The live JSONata used the guide's dialect (`$if … $end`, `?.`); the file \
                     holds the standard form.\n",
                );
                notes.push(format!(
                    "rule {id}: the live JSONata uses the guide's dialect (`$if … $end`, `?.`), \
                     which no JSONata engine parses; transforms/{id}.jsonata holds the standard \
                     form ({fixes} rewrite(s)), so plan shows the expression changing"
                ));
                crate::transform::syntax::rewrite(e)
            } else {
                if e.trim_end() != e {
                    notes.push(format!(
                        "rule {id}: the live JSONata ends in whitespace, which compile trims"
                    ));
                }
                e.to_string()
            }
        }
        None => {
            notes.push(format!(
                "rule {id}: no TRANSFORM action; the spec forwards the event unchanged (`$`)"
            ));
            "$".to_string()
        }
    };
    let file = format!("transforms/{id}.jsonata");
    let _ = writeln!(y, "    transformFile: {}", scalar(&file));
    let _ = writeln!(
        y,
        "    # Add fixture events (JSON) to fixtures/{id}/, then: fixtures: [fixtures/{id}/*.json]"
    );
    let mut body = text.trim_end().to_string();
    body.push('\n');
    files.push((file, body));
}

fn readme(
    src: &Source,
    owner: &Owner,
    name: &str,
    env_vars: &[(String, String)],
    notes: &[String],
    rules: &[(String, &Value)],
) -> String {
    let env_flag = owner
        .env
        .as_ref()
        .map(|e| format!(" --env {e}"))
        .unwrap_or_default();
    let mut r = format!(
        "# {}\n\nImported by `cxsync import --channel {name}{env_flag}` from the Event Hub at {}: \
         the channel, its retry policy and {} rule(s); set the secrets below, then \
         `cxsync validate {SPEC_FILE}{env_flag}` and `cxsync plan {SPEC_FILE}{env_flag} \
         --detailed-exitcode` (exit 0: the hub matches this spec).\n",
        owner.spec,
        src.hub,
        rules.len()
    );
    if !env_vars.is_empty() {
        r.push_str("\nSecrets (never read from the hub; set them from your vault):\n\n");
        for (v, what) in env_vars {
            let _ = writeln!(r, "- `{v}`: {what}");
        }
    }
    if !rules.is_empty() {
        r.push_str(
            "\nFixtures: each rule has an empty folder under `fixtures/`; add events there and \
             list them in the rule's `fixtures:` so `cxsync test` snapshots the transforms.\n",
        );
    }
    if !notes.is_empty() {
        r.push_str("\nWhat the spec could not copy exactly:\n\n");
        for n in notes {
            let _ = writeln!(r, "- {n}");
        }
    }
    r
}

fn str_at<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn headers(ch: &Value) -> impl Iterator<Item = (&String, &Value)> {
    ch.get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

fn is_vault_ref(s: &str) -> bool {
    s.strip_prefix("${VAULT_SECRET:")
        .and_then(|r| r.strip_suffix('}'))
        .is_some_and(|n| !n.is_empty() && !n.contains(['{', '}', '$']))
}

/// An id or name the spec format accepts: the schema's own pattern (`spec::model::ID_PATTERN`),
/// compiled once.
fn is_spec_id(s: &str) -> bool {
    static ID: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(crate::spec::model::ID_PATTERN).ok());
    ID.as_ref().is_some_and(|re| re.is_match(s))
}

/// `name` as an environment-variable fragment: upper case, `_` for anything else.
fn env_slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// A YAML scalar for `s`: plain when that reads back as the same string, else double-quoted
/// (JSON's string syntax is valid YAML).
pub fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:+-@".contains(c))
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '_')
        && !s.ends_with(':')
        && !s.contains(": ")
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

/// A flow sequence of JSON values (each scalar as YAML reads it back).
fn flow(items: &[Value]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|v| match v {
            Value::String(s) => scalar(s),
            other => other.to_string(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// A field the spec must declare although the live object may lack it.
struct Needed<'a> {
    /// Whose field it is, for the note: `the channel`, `the retry policy`.
    owner: &'a str,
    key: &'a str,
    /// What the spec says when the live object has no acceptable value.
    default: &'a str,
    /// Where the default comes from, for the note (` (the guide's)`, or nothing).
    source: &'a str,
    /// Which live values are taken as they are.
    accept: fn(&Value) -> bool,
}

impl Needed<'_> {
    /// Writes `key: value` at `indent` from the live object `obj`; without an acceptable value
    /// there, the default, with a note that plan will show it as added.
    fn write(&self, y: &mut String, notes: &mut Vec<String>, obj: &Value, indent: &str) {
        let Needed {
            owner,
            key,
            default,
            source,
            accept,
        } = self;
        match obj.get(key).filter(|v| accept(v)) {
            Some(v) => {
                let _ = writeln!(y, "{indent}{key}: {v}");
            }
            None => {
                let _ = writeln!(y, "{indent}{key}: {default}");
                notes.push(format!(
                    "{owner} has no `{key}`; the spec needs one and says {default}{source}, which \
                     plan shows as added"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_read_back_as_the_same_string() {
        assert_eq!(scalar("CRM_Sync"), "CRM_Sync");
        assert_eq!(scalar("https://x.example/v1"), "https://x.example/v1");
        for s in [
            "yes", "1.0", "${env:X}", "a: b", "", "#x", "x #y", "ünï", "-", "null",
        ] {
            let q = scalar(s);
            let back: Value = crate::spec::yaml::parse(&format!("k: {q}\n"))
                .unwrap()
                .value;
            assert_eq!(back["k"], json!(s), "{s} → {q}");
        }
    }

    #[test]
    fn a_channel_owned_by_an_environment_imports_as_that_environment() {
        let src = Source {
            channel: json!({"name": "C", "timeoutMilliseconds": 5, "headers": {OWNER_HEADER: "spec=s; env=staging"},
                            "authentication": {"type": "BEARER", "token": "********"}}),
            retry_policy: None,
            rules: vec![
                (
                    "R--staging".into(),
                    json!({"name": "r", "eventType": "e", "actions": [
                    {"type": "TRANSFORM", "jsonataExpression": "$if(a) 1 $else 2 $end"},
                    {"type": "ROUTE", "channelId": "C"}]}),
                ),
                (
                    "HAND_MADE".into(),
                    json!({"actions": [{"type": "ROUTE", "channelId": "C"}]}),
                ),
            ],
            hub: "http://h".into(),
        };
        let i = import(&src, &Options::default()).unwrap();
        assert_eq!(i.owner.env.as_deref(), Some("staging"));
        let spec = &i.files[0].1;
        assert!(spec.contains("  - id: R\n"), "{spec}");
        assert!(spec.contains("token: \"${env:C_TOKEN}\""), "{spec}");
        assert!(spec.contains("environments:\n  staging: {}"), "{spec}");
        assert!(!spec.contains("********"), "{spec}");
        let t = i
            .files
            .iter()
            .find(|(p, _)| p == "transforms/R.jsonata")
            .unwrap();
        assert_eq!(t.1, "a ? 1 : 2\n");
        assert!(
            i.notes.iter().any(|n| n.contains("HAND_MADE")),
            "{:?}",
            i.notes
        );
        assert!(
            i.notes.iter().any(|n| n.contains("dialect")),
            "{:?}",
            i.notes
        );
        let e = import(
            &src,
            &Options {
                env: Some("prod".into()),
                name: None,
            },
        )
        .unwrap_err();
        assert!(e.contains("import it with --env staging"), "{e}");
    }
}
