//! The compiled form of an expression: jsonata-js's processed tree (`processAST`: paths as
//! lists of steps, predicates as step stages, group-by and order-by on their path), with
//! variables interned, builtins resolved and regex literals compiled.

use jsonata_core::ast::AstNode;

/// An interned variable name.
pub(super) type Var = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

/// The builtins the evaluator implements itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Builtin {
    String,
    Length,
    Substring,
    SubstringBefore,
    SubstringAfter,
    Uppercase,
    Lowercase,
    Trim,
    Pad,
    Contains,
    Split,
    Join,
    Replace,
    Match,
    Number,
    Abs,
    Floor,
    Ceil,
    Round,
    Power,
    Sqrt,
    Sum,
    Max,
    Min,
    Average,
    Count,
    Boolean,
    Not,
    Exists,
    Type,
    Append,
    Reverse,
    Sort,
    Distinct,
    Keys,
    Lookup,
    Merge,
    Each,
    Map,
    Filter,
    Reduce,
    Now,
    Millis,
    Assert,
}

/// A pure builtin the evaluator hands to the engine itself (date and number pictures,
/// encodings): `$name(a0, a1, …)` parsed once, evaluated against `{"a0": …, "a1": …}`.
#[derive(Debug)]
pub(super) struct EngineCall {
    pub ast: AstNode,
    /// The check made before the engine is asked (a number it would answer wrongly).
    pub guard: Option<crate::transform::numbers::Guard>,
    /// The native implementation of this call's common forms, if it has one.
    pub native: Option<Native>,
}

/// A date call answered without the engine where its arguments allow ([`super::dates`]).
#[derive(Debug)]
pub(super) enum Native {
    /// `$toMillis(s)`
    ToMillis,
    /// `$fromMillis(ms)` or `$fromMillis(ms, <literal picture>)`
    FromMillis(Vec<super::dates::Part>),
    /// `$encodeUrl` & co. of a string: (component, decode), by [`crate::transform::uri`]; a
    /// malformed escape is the engine's to report (D3140).
    Url(bool, bool),
    /// `$formatNumber(n, picture)` of a number and a string, by jsonata-core's own
    /// `format_number` (what the engine calls), without an engine evaluation around it.
    FormatNumber,
}

/// One node; `predicates`, `group` and `keep_array` are jsonata-js's node-level `predicate`,
/// `group` and `keepArray` (a path keeps its own in [`Path`] and its steps).
#[derive(Debug)]
pub(super) struct Node {
    pub kind: K,
    pub predicates: Vec<Node>,
    pub group: Option<Box<Group>>,
    pub keep_array: bool,
    /// A call in a lambda body's tail position: its result is returned as it is, not unwrapped
    /// (jsonata-js evaluates it through a thunk, outside `evaluate`).
    pub tail: bool,
}

impl Node {
    pub(super) fn new(kind: K) -> Node {
        Node {
            kind,
            predicates: Vec::new(),
            group: None,
            keep_array: false,
            tail: false,
        }
    }

    pub(super) fn is_call(&self) -> bool {
        matches!(self.kind, K::Call(..) | K::Engine(..) | K::CallFn(..))
    }
}

#[derive(Debug)]
pub(super) enum K {
    Str(Box<str>),
    Num(f64),
    Bool(bool),
    Null,
    /// `$`
    Context,
    /// `$$`
    Root,
    /// `$name`; `builtin` when the name is also a builtin (a miss means the builtin: bail).
    Var {
        var: Var,
        builtin: bool,
    },
    /// A field step (only inside a path).
    Name(Box<str>),
    Path(Box<Path>),
    Neg(Box<Node>),
    Arith(Arith, Box<Node>, Box<Node>),
    Cmp(Cmp, Box<Node>, Box<Node>),
    /// `=` (false) or `!=` (true).
    Eq(bool, Box<Node>, Box<Node>),
    In(Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Concat(Box<Node>, Box<Node>),
    Cond(Box<Node>, Box<Node>, Option<Box<Node>>),
    Elvis(Box<Node>, Box<Node>),
    Coalesce(Box<Node>, Box<Node>),
    Block(Vec<Node>),
    Bind(Var, Box<Node>),
    /// An array constructor; `cons` when it is the first or last step of a path (the result
    /// is never flattened there).
    Array(Vec<Item>, bool),
    /// `{ k: v, … }`: a group-by over the context.
    Object(Box<Group>),
    /// A builtin; a regex literal argument is `K::Regex` in its place.
    Call(Builtin, Vec<Node>),
    Engine(Box<EngineCall>, Vec<Node>),
    /// A call of whatever the callee evaluates to (a lambda).
    CallFn(Box<Node>, Vec<Node>),
    Lambda(Box<Lambda>),
    /// A regex literal, index into the program's regexes (only as a builtin's argument).
    Regex(usize),
    /// `$error(…)` and the like: the engine raises it.
    Bail,
}

/// An item of an array constructor.
#[derive(Debug)]
pub(super) enum Item {
    /// `nested`: the item is itself an array constructor (pushed, not flattened).
    Expr {
        node: Node,
        nested: bool,
    },
    Range(Node, Node),
}

#[derive(Debug)]
pub(super) struct Group {
    pub pairs: Vec<(Node, Node)>,
    /// Every key is a string literal (and they are distinct).
    pub literal_keys: bool,
}

#[derive(Debug)]
pub(super) struct Path {
    pub steps: Vec<Step>,
    /// `keepSingletonArray`: a `[]` on one of the steps.
    pub keep_singleton: bool,
    pub group: Option<Box<Group>>,
    /// The first step is a variable (`$x`, `$`, `$$`): the path starts from it, not from each
    /// item of an array context.
    pub absolute: bool,
    /// Every step is a plain field name (no stages): walked directly.
    pub names: Option<Vec<Box<str>>>,
}

#[derive(Debug)]
pub(super) enum StepKind {
    Expr(Node),
    Sort(Vec<SortTerm>),
}

#[derive(Debug)]
pub(super) struct Step {
    pub kind: StepKind,
    pub stages: Vec<Node>,
    /// An array constructor as the first or last step: evaluated whole / not flattened.
    pub cons_array: bool,
}

#[derive(Debug)]
pub(super) struct SortTerm {
    pub descending: bool,
    pub expr: Node,
}

#[derive(Debug)]
pub(super) struct Lambda {
    pub params: Vec<Var>,
    pub body: Node,
}
