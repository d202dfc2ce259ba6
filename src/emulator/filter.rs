//! A small OData `$filter` parser and evaluator.
//!
//! Covers what directory queries use: `eq ne gt ge lt le`, `in (…)`, `startswith`,
//! `endswith`, `and or not` and parentheses over scalar properties. Strings compare
//! case-insensitively, as Entra ID does. Anything else is a parse error, which the caller
//! turns into Graph's 400.

use serde_json::{Map, Value};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(String, CmpOp, Lit),
    In(String, Vec<Lit>),
    StartsWith(String, String),
    EndsWith(String, String),
}

impl Expr {
    /// Property names the expression reads.
    pub(crate) fn properties(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Self::And(a, b) | Self::Or(a, b) => {
                a.collect(out);
                b.collect(out);
            }
            Self::Not(a) => a.collect(out),
            Self::Cmp(p, ..) | Self::In(p, _) | Self::StartsWith(p, _) | Self::EndsWith(p, _) => {
                out.push(p);
            }
        }
    }

    /// The first operator Entra ID treats as an "advanced query" (needs
    /// `ConsistencyLevel: eventual`), if any.
    pub(crate) fn advanced_operator(&self) -> Option<&'static str> {
        match self {
            Self::And(a, b) | Self::Or(a, b) => a.advanced_operator().or(b.advanced_operator()),
            Self::Not(_) => Some("not"),
            Self::Cmp(_, CmpOp::Ne, _) => Some("ne"),
            Self::EndsWith(..) => Some("endsWith"),
            _ => None,
        }
    }

    /// Evaluates against a rendered entity.
    pub(crate) fn eval(&self, obj: &Map<String, Value>) -> bool {
        match self {
            Self::And(a, b) => a.eval(obj) && b.eval(obj),
            Self::Or(a, b) => a.eval(obj) || b.eval(obj),
            Self::Not(a) => !a.eval(obj),
            Self::Cmp(p, op, lit) => compare(obj.get(p).unwrap_or(&Value::Null), *op, lit),
            Self::In(p, lits) => {
                let v = obj.get(p).unwrap_or(&Value::Null);
                lits.iter().any(|l| compare(v, CmpOp::Eq, l))
            }
            Self::StartsWith(p, s) => obj.get(p).and_then(Value::as_str).is_some_and(|v| v.to_lowercase().starts_with(&s.to_lowercase())),
            Self::EndsWith(p, s) => obj.get(p).and_then(Value::as_str).is_some_and(|v| v.to_lowercase().ends_with(&s.to_lowercase())),
        }
    }
}

fn compare(v: &Value, op: CmpOp, lit: &Lit) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (v, lit) {
        (Value::Null, Lit::Null) => Some(Ordering::Equal),
        (Value::Null, _) | (_, Lit::Null) => None,
        (Value::String(a), Lit::Str(b)) => Some(a.to_lowercase().cmp(&b.to_lowercase())),
        (Value::Bool(a), Lit::Bool(b)) => Some(a.cmp(b)),
        (Value::Number(a), Lit::Num(b)) => a.as_f64().and_then(|a| a.partial_cmp(b)),
        _ => None,
    };
    match (op, ord) {
        (CmpOp::Eq, o) => o == Some(Ordering::Equal),
        (CmpOp::Ne, o) => o != Some(Ordering::Equal),
        (_, None) => false,
        (CmpOp::Gt, Some(o)) => o == Ordering::Greater,
        (CmpOp::Ge, Some(o)) => o != Ordering::Less,
        (CmpOp::Lt, Some(o)) => o == Ordering::Less,
        (CmpOp::Le, Some(o)) => o != Ordering::Greater,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    LParen,
    RParen,
    Comma,
}

fn tokenize(input: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = input.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                toks.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                toks.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string literal".into()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                toks.push(Tok::Str(s));
            }
            c if c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '/' | '@' | '+' | ':') => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.' | '-' | '/' | '@' | '+' | ':')) {
                    i += 1;
                }
                toks.push(Tok::Word(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character '{other}'")),
        }
    }
    Ok(toks)
}

/// Nesting limit for `not` and parentheses: deeper input is refused instead of recursing
/// until the worker's stack overflows.
const MAX_DEPTH: usize = 64;

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

/// Parses a `$filter` value.
pub(crate) fn parse(input: &str) -> Result<Expr, String> {
    let mut p = Parser { toks: tokenize(input)?, pos: 0, depth: 0 };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err("unexpected token after end of expression".into());
    }
    Ok(e)
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn expect(&mut self, t: &Tok) -> Result<(), String> {
        match self.next() {
            Some(ref got) if got == t => Ok(()),
            _ => Err(format!("expected {t:?}")),
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String> {
        if self.depth >= MAX_DEPTH {
            return Err("the expression is nested too deeply".into());
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            self.pos += 1;
            return self.nested(|p| Ok(Expr::Not(Box::new(p.unary()?))));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::LParen) => {
                let e = self.nested(Self::or)?;
                self.expect(&Tok::RParen)?;
                Ok(e)
            }
            Some(Tok::Word(w)) if self.peek() == Some(&Tok::LParen) => self.function(&w),
            Some(Tok::Word(prop)) => self.comparison(prop),
            _ => Err("expected a property, function or '('".into()),
        }
    }

    fn function(&mut self, name: &str) -> Result<Expr, String> {
        self.expect(&Tok::LParen)?;
        let prop = match self.next() {
            Some(Tok::Word(p)) => p,
            _ => return Err(format!("{name}: expected a property name")),
        };
        self.expect(&Tok::Comma)?;
        let value = match self.next() {
            Some(Tok::Str(s)) => s,
            _ => return Err(format!("{name}: expected a string literal")),
        };
        self.expect(&Tok::RParen)?;
        match name.to_ascii_lowercase().as_str() {
            "startswith" => Ok(Expr::StartsWith(prop, value)),
            "endswith" => Ok(Expr::EndsWith(prop, value)),
            _ => Err(format!("unsupported function '{name}'")),
        }
    }

    fn comparison(&mut self, prop: String) -> Result<Expr, String> {
        let op = match self.next() {
            Some(Tok::Word(w)) => w.to_ascii_lowercase(),
            _ => return Err(format!("expected an operator after '{prop}'")),
        };
        if op == "in" {
            self.expect(&Tok::LParen)?;
            let mut lits = vec![self.literal()?];
            while self.peek() == Some(&Tok::Comma) {
                self.pos += 1;
                lits.push(self.literal()?);
            }
            self.expect(&Tok::RParen)?;
            return Ok(Expr::In(prop, lits));
        }
        let op = match op.as_str() {
            "eq" => CmpOp::Eq,
            "ne" => CmpOp::Ne,
            "gt" => CmpOp::Gt,
            "ge" => CmpOp::Ge,
            "lt" => CmpOp::Lt,
            "le" => CmpOp::Le,
            other => return Err(format!("unsupported operator '{other}'")),
        };
        Ok(Expr::Cmp(prop, op, self.literal()?))
    }

    fn literal(&mut self) -> Result<Lit, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Lit::Str(s)),
            Some(Tok::Word(w)) => match w.as_str() {
                "true" => Ok(Lit::Bool(true)),
                "false" => Ok(Lit::Bool(false)),
                "null" => Ok(Lit::Null),
                _ if Uuid::parse_str(&w).is_ok() => Ok(Lit::Str(w)),
                _ => w.parse::<f64>().map(Lit::Num).map_err(|_| format!("invalid literal '{w}'")),
            },
            _ => Err("expected a literal".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn parses_and_evaluates_the_directory_subset() {
        let u = obj(json!({"userPrincipalName": "Ann@Contoso.com", "mail": null, "accountEnabled": true}));
        let cases = [
            ("userPrincipalName eq 'ann@contoso.com'", true),
            ("startswith(userPrincipalName,'ANN')", true),
            ("endswith(userPrincipalName,'@contoso.com')", true),
            ("mail eq null and accountEnabled eq true", true),
            ("mail eq 'x' or (accountEnabled eq false)", false),
            ("not (accountEnabled eq false)", true),
            ("userPrincipalName in ('a@b.c', 'ann@contoso.com')", true),
            ("userPrincipalName eq 'it''s'", false),
        ];
        for (f, want) in cases {
            let e = parse(f).unwrap_or_else(|err| panic!("{f}: {err}"));
            assert_eq!(e.eval(&u), want, "{f}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for f in ["", "eq 'a'", "a eq", "a eq 'x", "startswith(a)", "a foo 'b'", "(a eq 'b'"] {
            assert!(parse(f).is_err(), "{f}");
        }
    }
}
