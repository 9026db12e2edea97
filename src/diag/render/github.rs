//! GitHub Actions workflow commands: each finding becomes an annotation on the changed line of a
//! pull request (`::error file=…,line=…,col=…,endLine=…,endColumn=…,title=CODE::message`).

use std::fmt::Write as _;

use super::{Diagnostic, Severity};

/// Escapes the message part of a workflow command.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value of a workflow command (also `:` and `,`, which delimit properties).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub(super) fn render(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let cmd = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut props = Vec::new();
        if let Some(f) = &d.file {
            let path = super::shown_path(f).replace('\\', "/");
            props.push(format!("file={}", escape_property(&path)));
            if let Some(s) = d.span {
                props.push(format!("line={}", s.start.line.max(1)));
                props.push(format!("col={}", s.start.column.max(1)));
                if s.end.line >= s.start.line && s.end.line > 0 {
                    props.push(format!("endLine={}", s.end.line));
                    // An annotation's columns are only meaningful on a single line.
                    if s.end.line == s.start.line && s.end.column > s.start.column {
                        props.push(format!("endColumn={}", s.end.column));
                    }
                }
            }
        }
        props.push(format!("title={}", escape_property(&d.code)));
        let mut msg = format!("{} {}", d.code, d.message);
        if let Some(h) = &d.help {
            msg.push_str("\nhelp: ");
            msg.push_str(h);
        }
        let _ = writeln!(out, "::{cmd} {}::{}", props.join(","), escape_data(&msg));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{Pos, Span};

    #[test]
    fn annotations_carry_file_line_column_and_escape_delimiters() {
        let d = Diagnostic::error("CX001", "50% of\nbatches")
            .in_file("specs/a,b.yaml")
            .at(Span::new(
                Pos {
                    line: 3,
                    column: 5,
                    offset: 0,
                },
                Pos {
                    line: 3,
                    column: 9,
                    offset: 0,
                },
            ));
        assert_eq!(
            render(&[d]),
            "::error file=specs/a%2Cb.yaml,line=3,col=5,endLine=3,endColumn=9,title=CX001::CX001 50%25 of%0Abatches\n"
        );
    }
}
