//! A Pratt parser for JSONata with the binding powers and the post-parse checks of jsonata-js
//! (`parser.js` and its `processAST` pass), so the accepted language and the `S0…` codes agree
//! with the reference implementation. It builds a tree for analysis; it does not evaluate.

use super::ast::{BinOp, Kind, Node, SortTerm};
use super::lexer::{Lexer, Tk, Token};
use super::SyntaxError;

/// Highest syntax tree accepted before the parser refuses (guards the stack on hostile input):
/// nesting and operator chains alike (`1+1+…`, `a.a.….a`), as every walk of the tree recurses
/// once per level. The one limit is in `transform::limits`.
pub const MAX_DEPTH: usize = crate::transform::limits::MAX_EXPRESSION_DEPTH;

/// Nesting handled on the caller's stack; deeper expressions are parsed (and analysed) again on
/// a thread with a stack large enough for [`MAX_DEPTH`], so the common case pays nothing.
pub(crate) const SHALLOW_DEPTH: usize = 40;

/// Stack for deep expressions: generous, since debug builds use large frames.
const DEEP_STACK: usize = 512 << 20;

/// Code of "deeper than this attempt allows" (a sentinel for the shallow attempt, the error
/// past [`MAX_DEPTH`]).
pub const TOO_DEEP: &str = "S0200";

/// Parses `text` into a tree, or the first syntax error jsonata-js would report.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    parse_deep(text).map(|(n, _)| n)
}

/// Parses `text`; the flag says whether the tree is higher than [`SHALLOW_DEPTH`] (walk it on a
/// big stack too).
pub(crate) fn parse_deep(text: &str) -> Result<(Node, bool), SyntaxError> {
    let chars: Vec<char> = text.chars().collect();
    match parse_chars(&chars, SHALLOW_DEPTH) {
        Err(e) if e.code == TOO_DEEP => {
            on_big_stack(move || parse_chars(&chars, MAX_DEPTH)).map(|n| (n, true))
        }
        other => other.map(|n| (n, false)),
    }
}

/// Runs `f` on a thread with a stack large enough for [`MAX_DEPTH`] levels.
pub(crate) fn on_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .name("jsonata-deep".into())
        .stack_size(DEEP_STACK)
        .spawn(f)
        .expect("spawn a parser thread")
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

fn parse_chars(chars: &[char], limit: usize) -> Result<Node, SyntaxError> {
    let mut p = Parser {
        lexer: Lexer::new(chars),
        tok: Token {
            kind: Tk::End,
            start: 0,
            end: 0,
        },
        prev_end: 0,
        depth: 0,
        limit,
    };
    p.advance(None, false)?;
    let node = p.expression(0)?;
    if p.tok.kind != Tk::End {
        return Err(p.error_here("S0201", "unexpected token after the end of the expression"));
    }
    super::validate::validate(&node)?;
    Ok(node)
}

/// The id jsonata-js's symbol table knows a token by.
fn id(t: &Tk) -> &'static str {
    match t {
        Tk::Op(o) => o,
        Tk::Leaf(Kind::Name(_) | Kind::Var(_)) => "(name)",
        Tk::Leaf(Kind::Regex { .. }) => "(regex)",
        Tk::Leaf(_) => "(literal)",
        Tk::End => "(end)",
    }
}

/// Left binding power of a token (0 for tokens that are not infix operators).
fn lbp(t: &Tk) -> u32 {
    match t {
        Tk::Op(o) => match *o {
            "." => 75,
            "[" | "(" | "@" | "#" => 80,
            "{" => 70,
            "?" => 20,
            "+" | "-" | "&" => 50,
            "*" | "/" | "%" => 60,
            "=" | "<" | ">" | "^" | "!=" | "<=" | ">=" | "~>" | "in" | "?:" | "??" => 40,
            "and" => 30,
            "or" => 25,
            ":=" => 10,
            _ => 0,
        },
        _ => 0,
    }
}

/// How a token reads in messages.
pub(crate) fn describe(t: &Tk) -> String {
    match t {
        Tk::Op(o) => format!("`{o}`"),
        Tk::Leaf(Kind::Name(n)) => format!("name `{n}`"),
        Tk::Leaf(Kind::Var(v)) => format!("variable `${v}`"),
        Tk::Leaf(Kind::Str(s)) => format!("string {s:?}"),
        Tk::Leaf(Kind::Num(n)) => format!("number `{n}`"),
        Tk::Leaf(Kind::Bool(b)) => format!("`{b}`"),
        Tk::Leaf(Kind::Regex { pattern, .. }) => format!("regex `/{pattern}/`"),
        Tk::Leaf(Kind::Null) => "`null`".to_string(),
        Tk::Leaf(_) => "an operand".to_string(),
        Tk::End => "the end of the expression".to_string(),
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// The current token (jsonata-js's `node`).
    tok: Token,
    /// End offset of the token before `tok`.
    prev_end: usize,
    depth: usize,
    limit: usize,
}

type R<T> = Result<T, SyntaxError>;

impl Parser<'_> {
    fn error_here(&self, code: &str, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            code: code.to_string(),
            message: message.into(),
            start: self.tok.start,
            end: self.tok.end.max(self.tok.start),
            help: None,
        }
    }

    /// Checks the current token is `expect` (if given) and moves to the next one.
    fn advance(&mut self, expect: Option<&str>, infix: bool) -> R<()> {
        if let Some(e) = expect {
            if id(&self.tok.kind) != e {
                let (code, msg) = if self.tok.kind == Tk::End {
                    (
                        "S0203",
                        format!("expected `{e}` before the end of the expression"),
                    )
                } else {
                    (
                        "S0202",
                        format!("expected `{e}`, found {}", describe(&self.tok.kind)),
                    )
                };
                return Err(self.error_here(code, msg));
            }
        }
        self.take(infix).map(drop)
    }

    /// Moves to the next token and returns the current one (no copy of its text).
    fn take(&mut self, infix: bool) -> R<Token> {
        let next = self.lexer.next_token(infix)?;
        if let Tk::Op(o @ ("!" | "~")) = next.kind {
            return Err(SyntaxError {
                code: "S0204".into(),
                message: format!("unknown operator `{o}`"),
                start: next.start,
                end: next.end,
                help: None,
            });
        }
        self.prev_end = self.tok.end;
        Ok(std::mem::replace(&mut self.tok, next))
    }

    fn is(&self, op: &str) -> bool {
        matches!(&self.tok.kind, Tk::Op(o) if *o == op)
    }

    fn expression(&mut self, rbp: u32) -> R<Node> {
        self.depth += 1;
        if self.depth > self.limit {
            return Err(self.error_here(
                TOO_DEEP,
                format!("expression nested deeper than {} levels", self.limit),
            ));
        }
        let t = self.take(true)?;
        let mut left = self.nud(t)?;
        self.check_height(&left)?;
        while rbp < lbp(&self.tok.kind) {
            let t = self.take(false)?;
            left = self.led(t, left)?;
            // A chain (`1+1+…`, `a.a.…`) grows the tree without growing the recursion.
            self.check_height(&left)?;
        }
        self.depth -= 1;
        Ok(left)
    }

    fn check_height(&self, node: &Node) -> R<()> {
        if node.height > self.limit {
            return Err(SyntaxError {
                code: TOO_DEEP.to_string(),
                message: format!(
                    "expression nested deeper than {} levels (operator chains count)",
                    self.limit
                ),
                start: node.start,
                end: node.end,
                help: Some(
                    "split it with variables in a block, e.g. `($a := …; $b := …; $a + $b)`".into(),
                ),
            });
        }
        Ok(())
    }

    fn nud(&mut self, t: Token) -> R<Node> {
        let (s, e) = (t.start, t.end);
        let kind = match t.kind {
            Tk::Leaf(leaf) => leaf,
            // jsonata-js lets `(end)` stand as an operand and rejects it after parsing (S0207),
            // so a missing closing bracket is reported first (S0203), as there.
            Tk::End => Kind::Missing,
            Tk::Op(o) => match o {
                "and" | "or" | "in" => Kind::Name(o.to_string()),
                "*" => Kind::Wildcard,
                "**" => Kind::Descendant,
                "%" => Kind::Parent,
                "-" => {
                    let x = self.expression(70)?;
                    return Ok(Node::new(Kind::Neg(Box::new(x)), s, self.prev_end));
                }
                "(" => {
                    let mut exprs = Vec::new();
                    while !self.is(")") {
                        exprs.push(self.expression(0)?);
                        if !self.is(";") {
                            break;
                        }
                        self.advance(Some(";"), false)?;
                    }
                    self.advance(Some(")"), true)?;
                    return Ok(Node::new(Kind::Block(exprs), s, self.prev_end));
                }
                "[" => {
                    let items = self.comma_list("]", |p| {
                        let item = p.expression(0)?;
                        if !p.is("..") {
                            return Ok(item);
                        }
                        p.advance(Some(".."), false)?;
                        let rhs = p.expression(0)?;
                        let (a, b) = (item.start, rhs.end);
                        Ok(Node::new(Kind::Range(Box::new(item), Box::new(rhs)), a, b))
                    })?;
                    return Ok(Node::new(Kind::Array(items), s, self.prev_end));
                }
                "{" => {
                    let pairs = self.object_pairs()?;
                    return Ok(Node::new(Kind::Object(pairs), s, self.prev_end));
                }
                "|" => {
                    let pattern = self.expression(0)?;
                    self.advance(Some("|"), false)?;
                    let update = self.expression(0)?;
                    let mut delete = None;
                    if self.is(",") {
                        self.advance(Some(","), false)?;
                        delete = Some(Box::new(self.expression(0)?));
                    }
                    self.advance(Some("|"), false)?;
                    return Ok(Node::new(
                        Kind::Transform {
                            pattern: Box::new(pattern),
                            update: Box::new(update),
                            delete,
                        },
                        s,
                        self.prev_end,
                    ));
                }
                other => {
                    return Err(SyntaxError {
                        code: "S0211".into(),
                        message: format!("the symbol `{other}` cannot be used as a unary operator"),
                        start: s,
                        end: e,
                        help: None,
                    })
                }
            },
        };
        Ok(Node::new(kind, s, e))
    }

    fn object_pairs(&mut self) -> R<Vec<(Node, Node)>> {
        self.comma_list("}", |p| {
            let k = p.expression(0)?;
            p.advance(Some(":"), false)?;
            Ok((k, p.expression(0)?))
        })
    }

    /// Items separated by `,` up to `close` (none when `close` comes first), and `close`.
    fn comma_list<T>(
        &mut self,
        close: &'static str,
        mut item: impl FnMut(&mut Self) -> R<T>,
    ) -> R<Vec<T>> {
        let mut items = Vec::new();
        if !self.is(close) {
            loop {
                items.push(item(self)?);
                if !self.is(",") {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some(close), true)?;
        Ok(items)
    }

    fn led(&mut self, t: Token, left: Node) -> R<Node> {
        let Tk::Op(op) = t.kind else {
            unreachable!("only operators have a left binding power")
        };
        let s = left.start;
        let bx = Box::new;
        let node = match op {
            "." => {
                let rhs = self.expression(75)?;
                Kind::Dot(bx(left), bx(rhs))
            }
            "(" => {
                let mut partial = false;
                let args = self.comma_list(")", |p| {
                    if !p.is("?") {
                        return p.expression(0);
                    }
                    partial = true;
                    let hole = Node::new(Kind::Placeholder, p.tok.start, p.tok.end);
                    p.advance(Some("?"), false)?;
                    Ok(hole)
                })?;
                let is_lambda =
                    matches!(&left.kind, Kind::Name(n) if n == "function" || n == "\u{3bb}");
                if !is_lambda {
                    return Ok(Node::new(
                        Kind::Call {
                            callee: bx(left),
                            args,
                            partial,
                        },
                        s,
                        self.prev_end,
                    ));
                }
                if let Some(bad) = args.iter().find(|a| !matches!(a.kind, Kind::Var(_))) {
                    return Err(SyntaxError {
                        code: "S0208".into(),
                        message: "a function parameter must be a variable such as `$x`".into(),
                        start: bad.start,
                        end: bad.end,
                        help: None,
                    });
                }
                let mut signature = None;
                if self.is("<") {
                    let sig_start = self.tok.start;
                    let mut depth = 1;
                    let mut sig = String::from("<");
                    while depth > 0 && !self.is("{") && self.tok.kind != Tk::End {
                        self.advance(None, false)?;
                        if self.is(">") {
                            depth -= 1;
                        } else if self.is("<") {
                            depth += 1;
                        }
                        sig.push_str(&token_text(&self.tok.kind));
                    }
                    self.advance(Some(">"), false)?;
                    super::validate::signature(&sig, sig_start, self.prev_end)?;
                    signature = Some(sig);
                }
                self.advance(Some("{"), false)?;
                let body = self.expression(0)?;
                self.advance(Some("}"), false)?;
                Kind::Lambda {
                    params: args,
                    signature,
                    body: bx(body),
                }
            }
            "[" => {
                if self.is("]") {
                    self.advance(Some("]"), false)?;
                    Kind::Filter {
                        lhs: bx(left),
                        pred: None,
                    }
                } else {
                    let pred = self.expression(0)?;
                    self.advance(Some("]"), true)?;
                    Kind::Filter {
                        lhs: bx(left),
                        pred: Some(bx(pred)),
                    }
                }
            }
            "^" => {
                self.advance(Some("("), false)?;
                let mut terms = Vec::new();
                loop {
                    let mut descending = false;
                    if self.is("<") {
                        self.advance(Some("<"), false)?;
                    } else if self.is(">") {
                        descending = true;
                        self.advance(Some(">"), false)?;
                    }
                    let expr = self.expression(0)?;
                    terms.push(SortTerm { descending, expr });
                    if !self.is(",") {
                        break;
                    }
                    self.advance(Some(","), false)?;
                }
                self.advance(Some(")"), false)?;
                Kind::Sort {
                    lhs: bx(left),
                    terms,
                }
            }
            "{" => {
                let pairs = self.object_pairs()?;
                Kind::Group {
                    lhs: bx(left),
                    pairs,
                }
            }
            ":=" => {
                if !matches!(left.kind, Kind::Var(_)) {
                    return Err(SyntaxError {
                        code: "S0212".into(),
                        message: "the left side of `:=` must be a variable such as `$x`".into(),
                        start: left.start,
                        end: left.end,
                        help: None,
                    });
                }
                let value = self.expression(9)?;
                Kind::Bind {
                    var: bx(left),
                    value: bx(value),
                }
            }
            "@" | "#" => {
                let var = self.expression(80)?;
                if !matches!(var.kind, Kind::Var(_)) {
                    return Err(SyntaxError {
                        code: "S0214".into(),
                        message: format!(
                            "the right side of `{op}` must be a variable such as `$x`"
                        ),
                        start: var.start,
                        end: var.end,
                        help: None,
                    });
                }
                if op == "@" {
                    Kind::Focus {
                        lhs: bx(left),
                        var: bx(var),
                    }
                } else {
                    Kind::Index {
                        lhs: bx(left),
                        var: bx(var),
                    }
                }
            }
            "?" => {
                let then = self.expression(0)?;
                let mut otherwise = None;
                if self.is(":") {
                    self.advance(Some(":"), false)?;
                    otherwise = Some(bx(self.expression(0)?));
                }
                Kind::Cond {
                    cond: bx(left),
                    then: bx(then),
                    otherwise,
                }
            }
            "?:" => Kind::Elvis(bx(left), bx(self.expression(0)?)),
            "??" => Kind::Coalesce(bx(left), bx(self.expression(0)?)),
            "~>" => Kind::Apply(bx(left), bx(self.expression(40)?)),
            other => {
                let bop = BinOp::from_op(other).expect("every infix operator is handled");
                let rhs = self.expression(lbp(&Tk::Op(other)))?;
                Kind::Binary {
                    op: bop,
                    lhs: bx(left),
                    rhs: bx(rhs),
                }
            }
        };
        Ok(Node::new(node, s, self.prev_end))
    }
}

/// The text a token contributes to a signature (jsonata-js concatenates token values).
fn token_text(t: &Tk) -> String {
    match t {
        Tk::Op(o) => (*o).to_string(),
        Tk::Leaf(Kind::Name(n) | Kind::Str(n)) => n.clone(),
        Tk::Leaf(Kind::Var(v)) => format!("${v}"),
        Tk::Leaf(Kind::Num(n)) => n.to_string(),
        Tk::Leaf(Kind::Bool(b)) => b.to_string(),
        Tk::Leaf(Kind::Regex { pattern, .. }) => pattern.clone(),
        Tk::Leaf(Kind::Null) => "null".into(),
        Tk::Leaf(_) | Tk::End => String::new(),
    }
}
