//! `-m EXPR`: selection by marker, as pytest's `-m` does: marker names combined with
//! `not`, `and`, `or` and parentheses (`-m "parallel_safe and not resource_intensive"`).
//!
//! Written by hand: the grammar is four rules, and no well-kept crate parses pytest's
//! marker expressions.

pub use crate::errors::MarkerExprError;

use crate::discover::Markers;
use xpar_protocol::Serial;

/// The markers `-m` knows, by the names of their attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MarkerName {
    /// `#[serial]`, with or without keys.
    Serial,
    /// `#[parallel_safe]`.
    ParallelSafe,
    /// `#[resource_intensive]`.
    ResourceIntensive,
    /// `#[group]`.
    Group,
}

impl MarkerName {
    pub const ALL: [MarkerName; 4] = [
        MarkerName::Serial,
        MarkerName::ParallelSafe,
        MarkerName::ResourceIntensive,
        MarkerName::Group,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MarkerName::Serial => "serial",
            MarkerName::ParallelSafe => "parallel_safe",
            MarkerName::ResourceIntensive => "resource_intensive",
            MarkerName::Group => "group",
        }
    }

    /// The marker `name` names, if `-m` knows it.
    pub fn parse(name: &str) -> Option<MarkerName> {
        MarkerName::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Whether a test with `m` carries this marker.
    pub fn is_on(self, m: &Markers) -> bool {
        match self {
            MarkerName::Serial => m.serial != Serial::No,
            MarkerName::ParallelSafe => m.parallel_safe,
            MarkerName::ResourceIntensive => m.resource_slots.is_some(),
            MarkerName::Group => m.group.is_some(),
        }
    }
}

impl std::fmt::Display for MarkerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarkerExpr {
    Marker(MarkerName),
    Not(Box<MarkerExpr>),
    And(Box<MarkerExpr>, Box<MarkerExpr>),
    Or(Box<MarkerExpr>, Box<MarkerExpr>),
}

/// The expression as `-m` takes it, `and` and `or` inside another operator in
/// parentheses: it parses back to the same expression.
impl std::fmt::Display for MarkerExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sub = |e: &MarkerExpr, f: &mut std::fmt::Formatter<'_>| match e {
            MarkerExpr::Marker(_) | MarkerExpr::Not(_) => write!(f, "{e}"),
            _ => write!(f, "({e})"),
        };
        match self {
            MarkerExpr::Marker(m) => write!(f, "{m}"),
            MarkerExpr::Not(e) => {
                f.write_str("not ")?;
                sub(e, f)
            }
            MarkerExpr::And(a, b) | MarkerExpr::Or(a, b) => {
                sub(a, f)?;
                let op = if matches!(self, MarkerExpr::And(..)) {
                    " and "
                } else {
                    " or "
                };
                f.write_str(op)?;
                sub(b, f)
            }
        }
    }
}

impl MarkerExpr {
    pub fn parse(text: &str) -> Result<Self, MarkerExprError> {
        let tokens = tokenize(text);
        let mut p = Parser { tokens, pos: 0 };
        let e = p.or()?;
        match p.tokens.get(p.pos) {
            None => Ok(e),
            Some(t) => Err(MarkerExprError::Unexpected(t.clone())),
        }
    }

    pub fn matches(&self, m: &Markers) -> bool {
        match self {
            MarkerExpr::Marker(name) => name.is_on(m),
            MarkerExpr::Not(e) => !e.matches(m),
            MarkerExpr::And(a, b) => a.matches(m) && b.matches(m),
            MarkerExpr::Or(a, b) => a.matches(m) || b.matches(m),
        }
    }
}

fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c == '(' || c == ')' || c.is_whitespace() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

struct Parser {
    tokens: Vec<String>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.pos).map(String::as_str)
    }

    fn or(&mut self) -> Result<MarkerExpr, MarkerExprError> {
        let mut e = self.and()?;
        while self.peek() == Some("or") {
            self.pos += 1;
            e = MarkerExpr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<MarkerExpr, MarkerExprError> {
        let mut e = self.not()?;
        while self.peek() == Some("and") {
            self.pos += 1;
            e = MarkerExpr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }

    fn not(&mut self) -> Result<MarkerExpr, MarkerExprError> {
        match self.peek() {
            Some("not") => {
                self.pos += 1;
                Ok(MarkerExpr::Not(Box::new(self.not()?)))
            }
            _ => self.atom(),
        }
    }

    fn atom(&mut self) -> Result<MarkerExpr, MarkerExprError> {
        let Some(tok) = self.peek().map(str::to_owned) else {
            return Err(MarkerExprError::UnexpectedEnd);
        };
        self.pos += 1;
        match tok.as_str() {
            "(" => {
                let e = self.or()?;
                match self.peek() {
                    Some(")") => {
                        self.pos += 1;
                        Ok(e)
                    }
                    Some(t) => Err(MarkerExprError::Unexpected(t.to_owned())),
                    None => Err(MarkerExprError::UnexpectedEnd),
                }
            }
            ")" | "and" | "or" => Err(MarkerExprError::Unexpected(tok)),
            name => match MarkerName::parse(name) {
                Some(marker) => Ok(MarkerExpr::Marker(marker)),
                None => Err(MarkerExprError::Unknown(tok)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn markers(serial: bool, safe: bool, heavy: bool) -> Markers {
        Markers {
            serial: if serial { Serial::All } else { Serial::No },
            parallel_safe: safe,
            resource_slots: heavy.then_some(2),
            ..Markers::default()
        }
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let e = MarkerExpr::parse("serial or parallel_safe and not resource_intensive").unwrap();
        assert!(e.matches(&markers(true, false, true)));
        assert!(e.matches(&markers(false, true, false)));
        assert!(!e.matches(&markers(false, true, true)));
        let e = MarkerExpr::parse("(serial or parallel_safe) and not resource_intensive").unwrap();
        assert!(!e.matches(&markers(true, false, true)));
        let e = MarkerExpr::parse("not not serial").unwrap();
        assert!(e.matches(&markers(true, false, false)));
        assert!(!e.matches(&Markers::default()));
    }

    #[test]
    fn marker_names_are_the_attributes_names() {
        for m in MarkerName::ALL {
            assert_eq!(MarkerName::parse(m.as_str()), Some(m));
        }
        assert_eq!(
            MarkerExpr::parse("not group").unwrap(),
            MarkerExpr::Not(Box::new(MarkerExpr::Marker(MarkerName::Group)))
        );
        assert_eq!(MarkerName::parse("slow"), None);
    }

    #[test]
    fn errors_name_the_problem() {
        let table = [
            ("slow", "unknown marker `slow`"),
            ("serial and", "ends early"),
            ("(serial", "ends early"),
            ("serial parallel_safe", "unexpected `parallel_safe`"),
            ("and serial", "unexpected `and`"),
            ("", "ends early"),
        ];
        for (text, want) in table {
            let err = MarkerExpr::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn an_expression_shown_parses_back_to_itself() {
        for text in [
            "serial",
            "not serial",
            "parallel_safe and not resource_intensive",
            "serial or group and parallel_safe",
            "not (serial or group)",
            "(serial and group) or not (parallel_safe and resource_intensive)",
        ] {
            let e = MarkerExpr::parse(text).unwrap();
            let shown = e.to_string();
            assert_eq!(MarkerExpr::parse(&shown).unwrap(), e, "{text} -> {shown}");
        }
        let e = MarkerExpr::parse("not (serial or group)").unwrap();
        assert_eq!(e.to_string(), "not (serial or group)");
    }
}
