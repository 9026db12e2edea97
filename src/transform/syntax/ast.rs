//! The syntax tree. Every node carries the character offsets `[start, end)` of the text it was
//! parsed from. The tree is the parser's (unflattened) shape: `a.b.c` is `Dot(Dot(a, b), c)`.

/// Binary operators that evaluate both operands to values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Concat,
    And,
    Or,
    In,
}

impl BinOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Concat => "&",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::In => "in",
        }
    }

    pub(crate) fn from_op(op: &str) -> Option<BinOp> {
        Some(match op {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            "%" => BinOp::Mod,
            "=" => BinOp::Eq,
            "!=" => BinOp::Ne,
            "<" => BinOp::Lt,
            "<=" => BinOp::Le,
            ">" => BinOp::Gt,
            ">=" => BinOp::Ge,
            "&" => BinOp::Concat,
            "and" => BinOp::And,
            "or" => BinOp::Or,
            "in" => BinOp::In,
            _ => return None,
        })
    }
}

/// One sort term of `^( … )`.
#[derive(Debug, Clone, PartialEq)]
pub struct SortTerm {
    pub descending: bool,
    pub expr: Node,
}

/// A node of the syntax tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    /// Height of the subtree (a leaf is 1): what a recursive walk of it needs in stack depth.
    /// Operator chains count too (`1+1+1` is 3 high), so the parser can bound it.
    pub height: usize,
}

/// What a node is.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A field step (`name`, `` `quoted name` ``; `and`/`or`/`in` used as names).
    Name(String),
    /// `$name`; `$` is `""`, `$$` is `"$"`.
    Var(String),
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Regex {
        pattern: String,
        flags: String,
    },
    /// `*`
    Wildcard,
    /// `**`
    Descendant,
    /// `%`
    Parent,
    /// `?` as an argument of a partial application.
    Placeholder,
    /// `-x`
    Neg(Box<Node>),
    Binary {
        op: BinOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    /// `lhs.rhs`: map `rhs` over `lhs`.
    Dot(Box<Node>, Box<Node>),
    /// `lhs[pred]`; `lhs[]` (keep singleton arrays) has no predicate.
    Filter {
        lhs: Box<Node>,
        pred: Option<Box<Node>>,
    },
    /// `lhs{ key: value, … }` (group-by).
    Group {
        lhs: Box<Node>,
        pairs: Vec<(Node, Node)>,
    },
    /// `lhs^( <a, >b )` (order-by).
    Sort {
        lhs: Box<Node>,
        terms: Vec<SortTerm>,
    },
    /// `lhs@$var` (focus binding).
    Focus {
        lhs: Box<Node>,
        var: Box<Node>,
    },
    /// `lhs#$var` (index binding).
    Index {
        lhs: Box<Node>,
        var: Box<Node>,
    },
    /// `$var := value`
    Bind {
        var: Box<Node>,
        value: Box<Node>,
    },
    /// `lhs ~> rhs`
    Apply(Box<Node>, Box<Node>),
    /// `callee(args)`; `partial` when an argument is `?`.
    Call {
        callee: Box<Node>,
        args: Vec<Node>,
        partial: bool,
    },
    /// `function($a, $b)<sig>{ body }` (or `λ`).
    Lambda {
        params: Vec<Node>,
        signature: Option<String>,
        body: Box<Node>,
    },
    /// `cond ? then : else`
    Cond {
        cond: Box<Node>,
        then: Box<Node>,
        otherwise: Option<Box<Node>>,
    },
    /// `lhs ?: rhs` (default when `lhs` is falsy).
    Elvis(Box<Node>, Box<Node>),
    /// `lhs ?? rhs` (default when `lhs` does not exist).
    Coalesce(Box<Node>, Box<Node>),
    /// `| pattern | update, delete |`
    Transform {
        pattern: Box<Node>,
        update: Box<Node>,
        delete: Option<Box<Node>>,
    },
    /// `( a; b; c )`
    Block(Vec<Node>),
    /// `[ a, b ]`
    Array(Vec<Node>),
    /// `a..b` inside an array constructor.
    Range(Box<Node>, Box<Node>),
    /// `{ key: value, … }`
    Object(Vec<(Node, Node)>),
    /// The end of the text where an operand was expected; never in a tree `parse` returns.
    Missing,
}

impl Node {
    pub(crate) fn new(kind: Kind, start: usize, end: usize) -> Node {
        let mut below = 0;
        kind.for_each_child(&mut |c| below = below.max(c.height));
        Node {
            kind,
            start,
            end,
            height: below + 1,
        }
    }
}

impl Kind {
    /// Calls `f` on each direct child, in source order.
    pub fn for_each_child<'t>(&'t self, f: &mut dyn FnMut(&'t Node)) {
        match self {
            Kind::Name(_)
            | Kind::Var(_)
            | Kind::Str(_)
            | Kind::Num(_)
            | Kind::Bool(_)
            | Kind::Null
            | Kind::Regex { .. }
            | Kind::Wildcard
            | Kind::Descendant
            | Kind::Parent
            | Kind::Placeholder
            | Kind::Missing => {}
            Kind::Neg(x) => f(x),
            Kind::Binary { lhs, rhs, .. }
            | Kind::Dot(lhs, rhs)
            | Kind::Focus { lhs, var: rhs }
            | Kind::Index { lhs, var: rhs }
            | Kind::Bind {
                var: lhs,
                value: rhs,
            }
            | Kind::Apply(lhs, rhs)
            | Kind::Elvis(lhs, rhs)
            | Kind::Coalesce(lhs, rhs)
            | Kind::Range(lhs, rhs) => {
                f(lhs);
                f(rhs);
            }
            Kind::Filter { lhs, pred } => {
                f(lhs);
                if let Some(p) = pred {
                    f(p);
                }
            }
            Kind::Group { lhs, pairs } => {
                f(lhs);
                for (k, v) in pairs {
                    f(k);
                    f(v);
                }
            }
            Kind::Sort { lhs, terms } => {
                f(lhs);
                for t in terms {
                    f(&t.expr);
                }
            }
            Kind::Call { callee, args, .. } => {
                f(callee);
                args.iter().for_each(&mut *f);
            }
            Kind::Lambda { params, body, .. } => {
                params.iter().for_each(&mut *f);
                f(body);
            }
            Kind::Cond {
                cond,
                then,
                otherwise,
            } => {
                f(cond);
                f(then);
                if let Some(o) = otherwise {
                    f(o);
                }
            }
            Kind::Transform {
                pattern,
                update,
                delete,
            } => {
                f(pattern);
                f(update);
                if let Some(d) = delete {
                    f(d);
                }
            }
            Kind::Block(items) | Kind::Array(items) => items.iter().for_each(&mut *f),
            Kind::Object(pairs) => {
                for (k, v) in pairs {
                    f(k);
                    f(v);
                }
            }
        }
    }
}
