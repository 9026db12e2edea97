use super::*;

const GUIDE: &str = include_str!("../../../fixtures/dialect/guide_transform.jsonata");
const VALID: &str = include_str!("../../../specs/transforms/interaction_ended.jsonata");

fn dotted(a: &Analysis) -> Vec<String> {
    all_dotted(&a.paths)
}

fn all_dotted(paths: &[PathRef]) -> Vec<String> {
    paths.iter().map(PathRef::dotted).collect()
}

fn field<'a>(a: &'a Analysis, pointer: &str) -> &'a OutputField {
    a.outputs
        .iter()
        .find(|o| o.pointer == pointer)
        .unwrap_or_else(|| panic!("no output field {pointer}"))
}

fn inputs(a: &Analysis, pointer: &str) -> Vec<String> {
    all_dotted(&field(a, pointer).inputs)
}

#[test]
fn syntax_error_carries_code_and_offending_token() {
    let e = parse(r#"{ "a": foo bar }"#).unwrap_err();
    assert_eq!(e.code, "S0202");
    assert_eq!((e.start, e.end), (11, 14), "{e:?}");
    let e = parse("$lowercase(\"x\"").unwrap_err();
    assert_eq!(e.code, "S0203");
    let e = parse("a.\"unterminated").unwrap_err();
    assert_eq!((e.code.as_str(), e.start), ("S0101", 2));
    let e = parse("(1; 2").unwrap_err();
    assert_eq!(e.code, "S0203");
}

#[test]
fn every_node_carries_offsets() {
    let n = parse("  a.b[c = 1]  ").unwrap();
    assert_eq!((n.start, n.end), (2, 12));
    let ast::Kind::Dot(lhs, rhs) = &n.kind else {
        panic!("{n:?}")
    };
    assert_eq!((lhs.start, lhs.end), (2, 3));
    assert_eq!((rhs.start, rhs.end), (4, 12));
}

#[test]
fn the_guide_transform_in_valid_form_reads_and_writes_what_it_says() {
    let a = analyse(VALID).unwrap();
    let paths = dotted(&a);
    for p in [
        "interaction.id",
        "interaction.customer.contactId",
        "interaction.channel.type",
        "interaction.endedAt",
        "interaction.startedAt",
        "interaction.agent.email",
        "interaction.analytics.sentiment.score",
    ] {
        assert!(paths.contains(&p.to_string()), "{p} missing from {paths:?}");
    }
    assert!(!paths.contains(&"interaction".to_string()), "{paths:?}");
    assert_eq!(inputs(&a, "/agentEmail"), ["interaction.agent.email"]);
    assert_eq!(
        inputs(&a, "/contactId"),
        [
            "interaction.customer.contactId",
            "interaction.customer.contactId"
        ]
    );
    assert_eq!(
        inputs(&a, "/metadata/sentimentScore"),
        ["interaction.analytics.sentiment.score"]
    );
    assert_eq!(inputs(&a, "/metadata").len(), 3);
    assert!(inputs(&a, "/syncTimestamp").is_empty());
    let fns: Vec<&str> = a.functions.iter().map(|f| f.0.as_str()).collect();
    assert!(fns.contains(&"now") && fns.contains(&"round"), "{fns:?}");
}

#[test]
fn context_changes_inside_predicates_blocks_and_constructors() {
    let a = analyse(r#"interaction.participants[role = "agent"].email"#).unwrap();
    assert_eq!(
        dotted(&a),
        [
            "interaction.participants.role",
            "interaction.participants.email"
        ]
    );
    let a = analyse(r#"{ "agent": interaction.agent.{ "mail": email, "n": $.name } }"#).unwrap();
    assert_eq!(
        inputs(&a, "/agent/mail"),
        ["interaction.agent.email"],
        "{:?}",
        a.outputs
    );
    assert_eq!(inputs(&a, "/agent/n"), ["interaction.agent.name"]);
    let a = analyse("interaction.(queue.name & wrapUp.code)").unwrap();
    assert_eq!(
        dotted(&a),
        ["interaction.queue.name", "interaction.wrapUp.code"]
    );
    let a = analyse("interaction.agent.$uppercase()").unwrap();
    assert_eq!(dotted(&a), ["interaction.agent"]);
}

#[test]
fn variables_bound_to_input_paths_are_followed() {
    let a = analyse(
        r#"( $agent := interaction.agent; { "email": $agent.email, "root": $$.event.id } )"#,
    )
    .unwrap();
    assert_eq!(inputs(&a, "/email"), ["interaction.agent.email"]);
    assert_eq!(inputs(&a, "/root"), ["event.id"]);
    let a = analyse(r#"Account.Order@$o.Product.{ "id": $o.OrderID, "p": Price }"#).unwrap();
    let paths = dotted(&a);
    assert!(paths.contains(&"Account.Order.OrderID".into()), "{paths:?}");
    assert!(paths.contains(&"Account.Product.Price".into()), "{paths:?}");
    let a = analyse("$map(interaction.transcript, function($t) { $t.text })").unwrap();
    assert!(
        dotted(&a).contains(&"interaction.transcript.text".into()),
        "{:?}",
        dotted(&a)
    );
}

#[test]
fn the_whole_input_is_a_read_with_no_segments() {
    let a = analyse(r#"$length($string($)) > 524288 ? $error("PAYLOAD_TOO_LARGE") : $"#).unwrap();
    assert!(a.paths.iter().all(|p| p.segments.is_empty()));
    assert_eq!(a.paths.len(), 2);
}

#[test]
fn dialect_of_the_guide_is_found_and_rewritten_to_parseable_jsonata() {
    assert!(parse(GUIDE).is_err());
    let fixes = dialect(GUIDE);
    let all: Vec<&DialectFix> = fixes.iter().flat_map(|f| f.flatten()).collect();
    assert_eq!(
        all.iter().filter(|f| f.kind == DialectKind::IfElse).count(),
        1
    );
    assert_eq!(
        all.iter()
            .filter(|f| f.kind == DialectKind::OptionalChain)
            .count(),
        6
    );
    let out = rewrite(GUIDE);
    assert!(out.contains(
        r#""contactId": interaction.customer.contactId != null ? $string(interaction.customer.contactId) : "UNKNOWN_CONTACT","#
    ), "{out}");
    assert!(out.contains("interaction.analytics.sentiment.score"));
    parse(&out).unwrap();
    assert!(dialect(&out).is_empty());
}

#[test]
fn the_guide_size_check_rewrites() {
    let src = r#"$if($length($string($)) > 524288) $error("PAYLOAD_TOO_LARGE") $else $ $end"#;
    assert_eq!(
        rewrite(src),
        r#"$length($string($)) > 524288 ? $error("PAYLOAD_TOO_LARGE") : $"#
    );
}

#[test]
fn nested_if_and_precedence_are_kept() {
    let src = r#"$if(a) $if(b) 1 $else 2 $end $else $if(c) 3 $end $end"#;
    let out = rewrite(src);
    assert_eq!(out, "a ? (b ? 1 : 2) : c ? 3");
    parse(&out).unwrap();
    // The construct is an operand of `&`: it keeps its parentheses.
    let out = rewrite(r#""x" & $if(a) "y" $else "z" $end & "w""#);
    assert_eq!(out, r#""x" & (a ? "y" : "z") & "w""#);
    // A condition holding a binding must be parenthesised.
    let out = rewrite(r#"$if($v := a) 1 $else 2 $end"#);
    assert_eq!(out, "($v := a) ? 1 : 2");
    // `?.` inside an `$if` is rewritten in its replacement and reported as nested.
    let fixes = dialect("$if(a?.b) a?.b $end");
    assert_eq!(fixes.len(), 1);
    assert_eq!(fixes[0].nested.len(), 2);
    assert_eq!(fixes[0].replacement, "a.b ? a.b");
}

#[test]
fn optional_chaining_variants() {
    assert_eq!(rewrite("a?.b?.c"), "a.b.c");
    assert_eq!(rewrite("a?.[0]"), "a[0]");
    // A string subscript is a field, never a filter (tester #99): `a["name"]` is `a` itself.
    assert_eq!(rewrite(r#"a?.customer?.["name"]"#), "a.customer.`name`");
    assert_eq!(rewrite(r#"a?.["first name"].x"#), "a.`first name`.x");
    parse(&rewrite(r#"a?.["first name"].x"#)).unwrap();
    let fixes = dialect(r#"a?.["x`y"]"#);
    assert!(fixes.len() == 1 && !fixes[0].fixable);
    // A real conditional is left alone.
    assert!(dialect(r#"a ? b : c"#).is_empty());
    assert!(dialect(r#""a?.b" & $x"#).is_empty());
}

#[test]
fn if_without_end_is_reported_unfixable() {
    let fixes = dialect("$if(a) b");
    assert_eq!(fixes.len(), 1);
    assert!(!fixes[0].fixable);
    assert_eq!(rewrite("$if(a) b"), "$if(a) b");
}

#[test]
fn deep_nesting_parses_and_hostile_nesting_is_an_error_not_a_stack_overflow() {
    let deep = "(".repeat(300) + "a.b" + &")".repeat(300);
    assert_eq!(dotted(&analyse(&deep).unwrap()), ["a.b"]);
    let hostile = "(".repeat(5000) + &")".repeat(5000);
    let e = parse(&hostile).unwrap_err();
    assert_eq!(e.code, "S0200");
    assert!(e.message.contains("1000"), "{e:?}");
}

proptest::proptest! {
    /// Arbitrary text never panics the parser, the analysis or the dialect rewriter, and the
    /// rewriter changes nothing where it finds nothing.
    #[test]
    fn arbitrary_text_never_panics(
        s in r#"(\$if|\$else|\$end|\?\.|function|[a-z$().\[\]{}:?,;"'`/*%@#^&|~<>=!+ 0-9\\\n-]){0,40}"#
    ) {
        let _ = analyse(&s);
        let fixes = dialect(&s);
        let out = rewrite(&s);
        if fixes.iter().all(|f| !f.fixable) {
            proptest::prop_assert_eq!(out, s);
        }
    }
}

#[test]
fn data_flow_through_chains_hofs_group_and_sort() {
    let a = analyse(
        r#"{
          "t": interaction.transcript[speaker = 'customer'].text ~> $join(" "),
          "n": $count(interaction.transcript),
          "g": interaction.items{ sku: qty },
          "o": interaction.items^(>price).sku,
          "m": $merge([{ "k": event.id }])
        }"#,
    )
    .unwrap();
    assert_eq!(
        inputs(&a, "/t"),
        [
            "interaction.transcript.speaker",
            "interaction.transcript.text"
        ]
    );
    assert_eq!(inputs(&a, "/n"), ["interaction.transcript"]);
    assert_eq!(
        inputs(&a, "/g"),
        ["interaction.items.sku", "interaction.items.qty"]
    );
    assert_eq!(
        inputs(&a, "/o"),
        ["interaction.items.price", "interaction.items.sku"]
    );
    assert_eq!(inputs(&a, "/m/k"), ["event.id"]);
    let a = analyse(r#"( $i := interaction; $i.id & "_" & event.type )"#).unwrap();
    assert_eq!(dotted(&a), ["interaction.id", "event.type"]);
}

fn carries(a: &Analysis, pointer: &str) -> Vec<String> {
    all_dotted(&field(a, pointer).carries)
}

#[test]
fn only_content_that_reaches_a_field_is_carried_by_it() {
    let a = analyse(
        r#"{
          "has": $count(interaction.analytics.transcripts) > 0,
          "summary": $count(interaction.analytics.transcripts) > 0 ? { "n": $count(interaction.analytics.transcripts) } : undefined,
          "known": $exists(interaction.customer.phone) ? "yes" : "no",
          "len": $length(interaction.customer.name),
          "piped": interaction.analytics.transcripts ~> $count(),
          "pick": interaction.customer.vip = true ? interaction.customer.phone : "withheld",
          "text": interaction.analytics.transcripts[speaker = "agent"].text ~> $join(" "),
          "count": $string($count(interaction.analytics.transcripts)),
          "masked": $substring(interaction.customer.phone, 0, 3) & "****",
          "block": ($t := interaction.analytics.transcripts; $count($t)),
          "reply": $round(($toMillis(interaction.transcript[speaker = "agent"][0].at) - $toMillis(interaction.startedAt)) / 1000),
          "minus0": interaction.customer.phone - 0,
          "sum": interaction.customer.phone + interaction.customer.age
        }"#,
    )
    .unwrap();
    for observed in [
        "/has",
        "/summary",
        "/summary/n",
        "/known",
        "/len",
        "/piped",
        "/count",
        "/block",
        "/reply",
    ] {
        assert!(
            carries(&a, observed).is_empty(),
            "{observed}: {:?}",
            carries(&a, observed)
        );
        assert!(
            !inputs(&a, observed).is_empty(),
            "{observed} still depends on its reads"
        );
    }
    assert_eq!(carries(&a, "/pick"), ["interaction.customer.phone"]);
    assert_eq!(
        carries(&a, "/text"),
        ["interaction.analytics.transcripts.text"]
    );
    assert_eq!(carries(&a, "/masked"), ["interaction.customer.phone"]);
    // With a constant operand the input is the result; a sum carries both.
    assert_eq!(carries(&a, "/minus0"), ["interaction.customer.phone"]);
    assert_eq!(
        carries(&a, "/sum"),
        ["interaction.customer.phone", "interaction.customer.age"]
    );
}

#[test]
fn a_bare_undefined_is_no_value_but_a_step_named_undefined_is_a_path() {
    let a =
        analyse(r#"{ "a": x > 0 ? x : undefined, "b": y.undefined, "c": undefined.z }"#).unwrap();
    assert_eq!(dotted(&a), ["x", "x", "y.undefined", "undefined.z"]);
}

/// #244: whether a transform reads a field at all: the field, inside it, around it, through a
/// wildcard, or the whole input; not a sibling or a field with the same prefix in its name.
#[test]
fn a_transform_reads_a_field_through_the_field_its_parts_its_parents_or_wildcards() {
    let field = ["interaction", "analytics", "transcript"];
    for (text, reads) in [
        (r#"{ "t": interaction.analytics.transcript }"#, true),
        (r#"{ "n": $count(interaction.analytics.transcript) }"#, true),
        (
            "$map(interaction.analytics.transcript, function($t) { $t.text })",
            true,
        ),
        (r#"{ "a": interaction.analytics }"#, true),
        (r#"{ "i": interaction }"#, true),
        (r#"$merge([$, { "x": 1 }])"#, true),
        (r#"{ "t": interaction.*.transcript }"#, true),
        (r#"{ "t": interaction.**.text }"#, true),
        (r#"{ "t": interaction.transcript }"#, false),
        (r#"{ "s": interaction.analytics.sentiment.score }"#, false),
        (r#"{ "t": interaction.analytics.transcripts }"#, false),
        (r#"{ "id": event.id, "k": "transcript" }"#, false),
    ] {
        let a = analyse(text).unwrap();
        assert_eq!(a.reads(&field), reads, "{text}: {:?}", dotted(&a));
    }
}
