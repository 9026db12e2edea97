//! jsonata-js's context argument: a builtin whose signature marks its first parameter with `-`
//! takes the context in its place when the arguments supplied leave that parameter unfilled
//! (`s.$substring(1, 2)` is `$substring(s, 1, 2)`, `n.$formatNumber("#0.0")` is
//! `$formatNumber(n, "#0.0")`), and fails with T0411 when the context is not of its type.
//!
//! The engine does this for its own builtins; the calls cxsync rewrites to host functions
//! (jsonata-js's definitions of `$substring`, `$formatNumber`, …) are handed the context as an
//! extra first argument and resolved here, by jsonata-js's own rule: the supplied arguments'
//! type symbols are matched against the signature's regex, and the context goes where the
//! marked parameter matched nothing.

use jsonata_core::evaluator::EvaluatorError;
use jsonata_core::value::JValue;
use std::sync::OnceLock;

use regex::Regex;

/// jsonata-js 2.2.2's signatures (`jsonata.js`, `staticFrame.bind`) of every builtin with the
/// context marker, sorted by name.
const SIGNATURES: &[(&str, &str)] = &[
    ("abs", "<n-:n>"),
    ("base64decode", "<s-:s>"),
    ("base64encode", "<s-:s>"),
    ("boolean", "<x-:b>"),
    ("ceil", "<n-:n>"),
    ("clone", "<(oa)-:o>"),
    ("contains", "<s-(sf):b>"),
    ("decodeUrl", "<s-:s>"),
    ("decodeUrlComponent", "<s-:s>"),
    ("each", "<o-f:a>"),
    ("encodeUrl", "<s-:s>"),
    ("encodeUrlComponent", "<s-:s>"),
    ("floor", "<n-:n>"),
    ("formatBase", "<n-n?:s>"),
    ("formatInteger", "<n-s:s>"),
    ("formatNumber", "<n-so?:s>"),
    ("fromMillis", "<n-s?s?:s>"),
    ("keys", "<x-:a<s>>"),
    ("length", "<s-:n>"),
    ("lookup", "<x-s:x>"),
    ("lowercase", "<s-:s>"),
    ("match", "<s-f<s:o>n?:a<o>>"),
    ("not", "<x-:b>"),
    ("number", "<(nsb)-:n>"),
    ("pad", "<s-ns?:s>"),
    ("parseInteger", "<s-s:n>"),
    ("power", "<n-n:n>"),
    ("replace", "<s-(sf)(sf)n?:s>"),
    ("round", "<n-n?:n>"),
    ("sift", "<o-f?:o>"),
    ("split", "<s-(sf)n?:a<s>>"),
    ("spread", "<x-:a<o>>"),
    ("sqrt", "<n-:n>"),
    ("string", "<x-b?:s>"),
    ("substring", "<s-nn?:s>"),
    ("substringAfter", "<s-s:s>"),
    ("substringBefore", "<s-s:s>"),
    ("toMillis", "<s-s?:n>"),
    ("trim", "<s-:s>"),
    ("uppercase", "<s-:s>"),
];

/// A builtin's signature, as jsonata-js's `signature.js` compiles it.
#[derive(Debug)]
pub(super) struct Signature {
    name: &'static str,
    /// `^(p1)(p2)…$` over the arguments' type symbols.
    full: Regex,
    /// Per parameter: the regex of one symbol it takes (without `?`), when the context may
    /// stand in for it.
    context: Vec<Option<Regex>>,
    /// By argument count: whether some arguments of that many leave the context parameter
    /// unfilled (`$substring(1, 2)` may, `$round(2)` never does).
    takes_context: Vec<bool>,
}

/// How a call's arguments stand against its signature.
#[derive(Debug, PartialEq)]
pub(super) enum Resolved {
    /// The arguments with the context in the parameter they left unfilled.
    WithContext(Vec<JValue>),
    /// The arguments fill the signature (or do not match it: the builtin reports that) as
    /// they are.
    AsSupplied,
}

impl Signature {
    /// The signature of `builtin`, when it has the context marker.
    pub(super) fn of(builtin: &str) -> Option<&'static Signature> {
        static ALL: OnceLock<Vec<Signature>> = OnceLock::new();
        let all = ALL.get_or_init(|| {
            SIGNATURES
                .iter()
                .map(|&(name, sig)| Signature::parse(name, sig))
                .collect()
        });
        let i = SIGNATURES.binary_search_by_key(&builtin, |e| e.0).ok()?;
        Some(&all[i])
    }

    /// Parses `sig` (`<s-nn?:s>`): each parameter's symbol class, `?`, `+` and `-`; subtypes
    /// (`a<s>`, `f<s:o>`) and the return type do not take part in matching.
    fn parse(name: &'static str, sig: &str) -> Signature {
        let inner = sig.trim_start_matches('<');
        let mut params: Vec<(String, bool)> = Vec::new();
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                ':' => break,
                's' | 'n' | 'b' | 'l' | 'o' => params.push((format!("[{c}m]"), false)),
                'a' | 'x' => params.push(("[asnblfom]".into(), false)),
                'j' => params.push(("[asnblom]".into(), false)),
                'f' => params.push(("f".into(), false)),
                '(' => {
                    let choice: String = chars.by_ref().take_while(|&c| c != ')').collect();
                    params.push((format!("[{choice}m]"), false));
                }
                '<' => {
                    let mut depth = 1;
                    for c in chars.by_ref() {
                        match c {
                            '<' => depth += 1,
                            '>' => depth -= 1,
                            _ => {}
                        }
                        if depth == 0 {
                            break;
                        }
                    }
                }
                '-' => {
                    if let Some(p) = params.last_mut() {
                        p.1 = true;
                        p.0.push('?');
                    }
                }
                '?' | '+' => {
                    if let Some(p) = params.last_mut() {
                        p.0.push(c);
                    }
                }
                _ => {}
            }
        }
        let full: String = params.iter().map(|(r, _)| format!("({r})")).collect();
        let mut sig = Signature {
            name,
            full: Regex::new(&format!("^{full}$")).expect("a signature's regex compiles"),
            context: params
                .iter()
                .map(|(r, ctx)| {
                    ctx.then(|| {
                        Regex::new(&format!("^{}$", r.trim_end_matches('?')))
                            .expect("a parameter's regex compiles")
                    })
                })
                .collect(),
            takes_context: Vec::new(),
        };
        // Every symbol sequence of each length a call can have (at most 8^3 of them).
        sig.takes_context = (0..params.len())
            .map(|argc| {
                let mut seqs = vec![String::new()];
                for _ in 0..argc {
                    seqs = seqs
                        .iter()
                        .flat_map(|q| SYMBOLS.chars().map(move |c| format!("{q}{c}")))
                        .collect();
                }
                seqs.iter().any(|q| sig.context_gap(q))
            })
            .collect();
        sig
    }

    /// Whether the symbols `supplied` match the signature with the context parameter empty.
    fn context_gap(&self, supplied: &str) -> bool {
        self.full.captures(supplied).is_some_and(|caps| {
            self.context
                .iter()
                .enumerate()
                .any(|(i, c)| c.is_some() && caps.get(i + 1).is_none_or(|m| m.as_str().is_empty()))
        })
    }

    /// The arguments `args` of a call made in `context`, as jsonata-js validates them: the
    /// context in the marked parameter where the arguments leave it unfilled, T0411 where the
    /// context is not of that parameter's type.
    pub(super) fn resolve(
        &self,
        context: &JValue,
        args: &[JValue],
    ) -> Result<Resolved, EvaluatorError> {
        let supplied: String = args.iter().map(symbol).collect();
        let Some(caps) = self.full.captures(&supplied) else {
            return Ok(Resolved::AsSupplied);
        };
        let mut out = Vec::with_capacity(args.len() + 1);
        let mut rest = args.iter();
        let mut inserted = false;
        for (i, ctx) in self.context.iter().enumerate() {
            let matched = caps.get(i + 1).map_or("", |m| m.as_str());
            match ctx {
                Some(re) if matched.is_empty() => {
                    if !re.is_match(&symbol(context).to_string()) {
                        return Err(EvaluatorError::TypeError(format!(
                            "T0411: Context value is not a compatible type with argument {} of \
                             function \"{}\"",
                            i + 1,
                            self.name
                        )));
                    }
                    out.push(context.clone());
                    inserted = true;
                }
                _ => out.extend(rest.by_ref().take(matched.chars().count()).cloned()),
            }
        }
        Ok(if inserted {
            Resolved::WithContext(out)
        } else {
            Resolved::AsSupplied
        })
    }

    /// Whether a call with `argc` arguments may leave the marked parameter unfilled.
    pub(super) fn may_take_context(&self, argc: usize) -> bool {
        self.takes_context.get(argc).copied().unwrap_or(false)
    }
}

/// The type symbols of [`symbol`].
const SYMBOLS: &str = "lbnsamfo";

/// jsonata-js's `getSymbol`: a value's type symbol in a signature (a regex is a function).
fn symbol(v: &JValue) -> char {
    match v {
        JValue::Null => 'l',
        JValue::Bool(_) => 'b',
        JValue::Number(_) => 'n',
        JValue::String(_) => 's',
        JValue::Array(_) => 'a',
        JValue::Undefined => 'm',
        JValue::Lambda(_) | JValue::Builtin { .. } | JValue::Regex { .. } => 'f',
        _ => 'o',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> JValue {
        JValue::string(x)
    }

    fn n(x: f64) -> JValue {
        JValue::Number(x)
    }

    #[test]
    fn the_table_is_sorted_and_every_signature_marks_its_first_parameter() {
        assert!(SIGNATURES.windows(2).all(|w| w[0].0 < w[1].0));
        for (name, _) in SIGNATURES {
            let sig = Signature::of(name).unwrap();
            assert!(sig.context[0].is_some(), "{name}");
            assert!(sig.context[1..].iter().all(Option::is_none), "{name}");
        }
    }

    #[test]
    fn the_context_fills_the_first_parameter_only_where_the_arguments_leave_it_empty() {
        let sub = Signature::of("substring").unwrap();
        let ctx = s("abcd");
        assert_eq!(
            sub.resolve(&ctx, &[n(1.0), n(2.0)]).unwrap(),
            Resolved::WithContext(vec![s("abcd"), n(1.0), n(2.0)])
        );
        assert_eq!(
            sub.resolve(&ctx, &[s("x"), n(2.0)]).unwrap(),
            Resolved::AsSupplied
        );
        // An undefined first argument is a supplied one (`m` matches `s`).
        assert_eq!(
            sub.resolve(&ctx, &[JValue::Undefined, n(2.0)]).unwrap(),
            Resolved::AsSupplied
        );
        // Three numbers match no reading: the builtin reports it.
        assert_eq!(
            sub.resolve(&ctx, &[n(1.0), n(2.0), n(3.0)]).unwrap(),
            Resolved::AsSupplied
        );
        let e = sub.resolve(&n(5.0), &[n(1.0), n(2.0)]).unwrap_err();
        assert!(e.to_string().contains("T0411"), "{e}");
        // `$round(2)`: the optional second parameter stays empty, not the first.
        let round = Signature::of("round").unwrap();
        assert_eq!(
            round.resolve(&n(2.5), &[n(2.0)]).unwrap(),
            Resolved::AsSupplied
        );
        let fm = Signature::of("fromMillis").unwrap();
        assert_eq!(
            fm.resolve(&n(0.0), &[s("[Y]"), s("+0100")]).unwrap(),
            Resolved::WithContext(vec![n(0.0), s("[Y]"), s("+0100")])
        );
        let fnum = Signature::of("formatNumber").unwrap();
        assert_eq!(
            fnum.resolve(&n(1.5), &[s("#0.0")]).unwrap(),
            Resolved::WithContext(vec![n(1.5), s("#0.0")])
        );
        assert!(fnum.may_take_context(2) && !fnum.may_take_context(3));
        // Calls that never take the context are left as they are.
        assert!(!round.may_take_context(1) && round.may_take_context(0));
        assert!(!Signature::of("number").unwrap().may_take_context(1));
        assert!(!Signature::of("toMillis").unwrap().may_take_context(1));
        assert!(sub.may_take_context(2) && !sub.may_take_context(3));
        assert!(Signature::of("formatInteger").unwrap().may_take_context(1));
        assert!(Signature::of("distinct").is_none());
    }
}
