//! MLflow's run filter syntax, evaluated on runs of the local store the way an MLflow server
//! evaluates it, so `search_runs` answers the same rows from `mlruns/` and from a server.
//!
//! A filter is expressions joined by `AND` (no `OR`): `metrics.roc_auc > 0.85 and
//! params.max_depth = '8'`. Identifiers are `metrics.K`, `params.K`, `tags.K` or
//! `attributes.K` (also `metric`, `param`/`parameters`, `tag`, `attr`/`run`), with `K` in double
//! quotes or backticks when it holds spaces or dots. What each kind accepts, as MLflow's
//! `SearchUtils`:
//! - metrics and the numeric attributes (`start_time`, `end_time`, `created`): `= != < <= > >=`
//!   with a number;
//! - params and tags: `= != LIKE ILIKE` with quoted text, and `IS NULL` / `IS NOT NULL`;
//! - the text attributes (`run_id`, `run_name`, `status`): `= != LIKE ILIKE`, and
//!   `IN` / `NOT IN` with a list `('a', 'b')`.
//!
//! `LIKE` is case-sensitive (`%` any text, `_` one character), `ILIKE` is not. A run without
//! the metric, param or tag compared does not match (but does match `IS NULL`).

use crate::record::RunRow;
use churnkit_core::{bail, Error, Result};

/// A parsed filter: every clause must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter(Vec<Clause>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Metric,
    Param,
    Tag,
    Attribute,
}

#[derive(Debug, Clone, PartialEq)]
enum Rhs {
    Num(f64),
    Text(String),
    List(Vec<String>),
    None,
}

#[derive(Debug, Clone, PartialEq)]
struct Clause {
    kind: Kind,
    key: String,
    op: String,
    rhs: Rhs,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(String),
    LParen,
    RParen,
    Comma,
}

fn tokens(s: &str) -> Result<Vec<Tok>> {
    let c: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        match ch {
            _ if ch.is_whitespace() => i += 1,
            '(' | ')' | ',' => {
                out.push(match ch {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    _ => Tok::Comma,
                });
                i += 1;
            }
            '\'' | '"' | '`' => {
                let end = c[i + 1..]
                    .iter()
                    .position(|&x| x == ch)
                    .ok_or_else(|| Error::params(format!("filter '{s}': a quote is not closed")))?;
                out.push(Tok::Quoted(c[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            '=' | '!' | '<' | '>' => {
                let two: String = c[i..(i + 2).min(c.len())].iter().collect();
                let op = if ["!=", "<=", ">=", "=="].contains(&two.as_str()) {
                    two
                } else if ch == '!' {
                    bail!(params, "filter '{s}': '!' must be '!='")
                } else {
                    ch.to_string()
                };
                i += op.len();
                out.push(Tok::Op(if op == "==" { "=".into() } else { op }));
            }
            _ => {
                let start = i;
                while i < c.len() && !c[i].is_whitespace() && !"()=!<>,'\"`".contains(c[i]) {
                    i += 1;
                }
                // An identifier may continue with a quoted key: metrics."error rate".
                let word: String = c[start..i].iter().collect();
                if word.ends_with('.') && i < c.len() && "\"`".contains(c[i]) {
                    let q = c[i];
                    let end = c[i + 1..].iter().position(|&x| x == q).ok_or_else(|| {
                        Error::params(format!("filter '{s}': a quote is not closed"))
                    })?;
                    let key: String = c[i + 1..i + 1 + end].iter().collect();
                    out.push(Tok::Word(format!("{word}\u{0}{key}")));
                    i += end + 2;
                } else {
                    out.push(Tok::Word(word));
                }
            }
        }
    }
    Ok(out)
}

fn kind_of(prefix: &str) -> Option<Kind> {
    Some(match prefix {
        "metrics" | "metric" => Kind::Metric,
        "params" | "param" | "parameters" => Kind::Param,
        "tags" | "tag" => Kind::Tag,
        "attributes" | "attribute" | "attr" | "run" => Kind::Attribute,
        _ => return None,
    })
}

const NUMERIC_ATTRIBUTES: [&str; 3] = ["start_time", "end_time", "created"];
const TEXT_ATTRIBUTES: [&str; 3] = ["run_id", "run_name", "status"];

impl Filter {
    /// Parse MLflow's filter syntax; the empty filter matches every run.
    ///
    /// ```
    /// use churnkit_tracking::query::Filter;
    /// assert!(Filter::parse("metrics.roc_auc > 0.85 and params.max_depth = '8'").is_ok());
    /// assert!(Filter::parse("params.max_depth > 8").is_err()); // params are text
    /// ```
    pub fn parse(filter: &str) -> Result<Filter> {
        let toks = tokens(filter)?;
        let bad = |why: &str| Error::params(format!("filter '{filter}': {why}"));
        let mut clauses = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            // Identifier.
            let Some(Tok::Word(ident)) = toks.get(i) else {
                return Err(bad("expected an identifier such as metrics.roc_auc"));
            };
            let (prefix, key) = match ident.split_once('\u{0}') {
                Some((p, k)) => (p.trim_end_matches('.').to_string(), k.to_string()),
                None => match ident.split_once('.') {
                    Some((p, k)) => (p.to_string(), k.to_string()),
                    None => {
                        return Err(bad(&format!(
                            "'{ident}' is not metrics.K, params.K, tags.K or attributes.K"
                        )))
                    }
                },
            };
            let kind = kind_of(&prefix.to_ascii_lowercase()).ok_or_else(|| {
                bad(&format!(
                    "'{prefix}' is not metrics, params, tags or attributes"
                ))
            })?;
            let key = match (kind, key.as_str()) {
                (Kind::Attribute, "run name" | "Run name" | "Run Name") => "run_name".to_string(),
                (Kind::Attribute, "Created") => "created".to_string(),
                _ => key,
            };
            i += 1;
            // Comparator.
            let word = |j: usize| match toks.get(j) {
                Some(Tok::Word(w)) => Some(w.to_ascii_uppercase()),
                _ => None,
            };
            let (op, used) = match (toks.get(i), word(i), word(i + 1), word(i + 2)) {
                (Some(Tok::Op(o)), ..) => (o.clone(), 1),
                (_, Some(w), Some(n), Some(l)) if w == "IS" && n == "NOT" && l == "NULL" => {
                    ("IS NOT NULL".into(), 3)
                }
                (_, Some(w), Some(n), _) if w == "IS" && n == "NULL" => ("IS NULL".into(), 2),
                (_, Some(w), Some(n), _) if w == "NOT" && n == "IN" => ("NOT IN".into(), 2),
                (_, Some(w), ..) if ["LIKE", "ILIKE", "IN"].contains(&w.as_str()) => (w, 1),
                _ => {
                    return Err(bad(&format!(
                        "expected a comparator after '{prefix}.{key}'"
                    )))
                }
            };
            i += used;
            let allowed: &[&str] = match kind {
                Kind::Metric => &["=", "!=", "<", "<=", ">", ">="],
                Kind::Param | Kind::Tag => &["=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"],
                Kind::Attribute if NUMERIC_ATTRIBUTES.contains(&key.as_str()) => {
                    &["=", "!=", "<", "<=", ">", ">="]
                }
                Kind::Attribute if TEXT_ATTRIBUTES.contains(&key.as_str()) => {
                    &["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"]
                }
                Kind::Attribute => {
                    return Err(bad(&format!(
                        "attribute '{key}' cannot be searched (run_id, run_name, status, start_time, end_time)"
                    )))
                }
            };
            if !allowed.contains(&op.as_str()) {
                return Err(bad(&format!(
                    "'{op}' does not apply to {prefix}.{key} (use {})",
                    allowed.join(" ")
                )));
            }
            // Value.
            let numeric = kind == Kind::Metric
                || (kind == Kind::Attribute && NUMERIC_ATTRIBUTES.contains(&key.as_str()));
            let rhs = if op.starts_with("IS") {
                Rhs::None
            } else if op.ends_with("IN") {
                let mut items = Vec::new();
                if toks.get(i) != Some(&Tok::LParen) {
                    return Err(bad(&format!("{op} takes a list: ('a', 'b')")));
                }
                i += 1;
                loop {
                    match toks.get(i) {
                        Some(Tok::Quoted(v)) => items.push(v.clone()),
                        _ => return Err(bad(&format!("{op} takes a list of quoted values"))),
                    }
                    i += 1;
                    match toks.get(i) {
                        Some(Tok::Comma) => i += 1,
                        Some(Tok::RParen) => break,
                        _ => return Err(bad("a list ends with ')'")),
                    }
                }
                i += 1;
                Rhs::List(items)
            } else {
                let v = match toks.get(i) {
                    Some(Tok::Word(w)) if numeric => w
                        .parse::<f64>()
                        .map(Rhs::Num)
                        .map_err(|_| bad(&format!("'{w}' is not a number")))?,
                    Some(Tok::Quoted(t)) if !numeric => Rhs::Text(t.clone()),
                    Some(Tok::Quoted(t)) => {
                        return Err(bad(&format!("{prefix}.{key} takes a number, not '{t}'")))
                    }
                    Some(Tok::Word(w)) => {
                        return Err(bad(&format!("{prefix}.{key} takes quoted text: '{w}'")))
                    }
                    _ => return Err(bad(&format!("expected a value after '{op}'"))),
                };
                i += 1;
                v
            };
            clauses.push(Clause { kind, key, op, rhs });
            // AND, or the end.
            match word(i) {
                None if i >= toks.len() => {}
                Some(w) if w == "AND" => {
                    i += 1;
                    if i >= toks.len() {
                        return Err(bad("nothing after AND"));
                    }
                }
                Some(w) if w == "OR" => return Err(bad("OR is not supported (as in MLflow)")),
                _ => return Err(bad("clauses are joined by AND")),
            }
        }
        Ok(Filter(clauses))
    }

    /// Whether `run` passes every clause.
    pub fn matches(&self, run: &RunRow) -> bool {
        self.0.iter().all(|c| c.matches(run))
    }
}

/// SQL LIKE: `%` any text, `_` one character.
fn like(text: &str, pattern: &str) -> bool {
    let (t, p): (Vec<char>, Vec<char>) = (text.chars().collect(), pattern.chars().collect());
    // Classic two-pointer match with backtracking to the last `%`.
    let (mut i, mut j) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while i < t.len() {
        if j < p.len() && (p[j] == '_' || p[j] == t[i]) {
            i += 1;
            j += 1;
        } else if j < p.len() && p[j] == '%' {
            star = Some(j);
            mark = i;
            j += 1;
        } else if let Some(s) = star {
            j = s + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    p[j..].iter().all(|&c| c == '%')
}

impl Clause {
    fn value(&self, r: &RunRow) -> Option<Rhs> {
        Some(match self.kind {
            Kind::Metric => Rhs::Num(*r.metrics.get(&self.key)?),
            Kind::Param => Rhs::Text(r.params.get(&self.key)?.clone()),
            Kind::Tag => Rhs::Text(r.tags.get(&self.key)?.clone()),
            Kind::Attribute => match self.key.as_str() {
                "run_id" => Rhs::Text(r.run_id.clone()),
                "run_name" => Rhs::Text(r.run_name.clone()),
                "status" => Rhs::Text(r.status.as_str().into()),
                "start_time" | "created" => Rhs::Num(r.start_time_ms as f64),
                "end_time" => Rhs::Num(r.end_time_ms? as f64),
                _ => return None,
            },
        })
    }

    fn matches(&self, r: &RunRow) -> bool {
        let v = self.value(r);
        match (self.op.as_str(), v, &self.rhs) {
            ("IS NULL", v, _) => v.is_none(),
            ("IS NOT NULL", v, _) => v.is_some(),
            (op, Some(Rhs::Num(a)), Rhs::Num(b)) => match op {
                "=" => a == *b,
                "!=" => a != *b,
                "<" => a < *b,
                "<=" => a <= *b,
                ">" => a > *b,
                ">=" => a >= *b,
                _ => false,
            },
            (op, Some(Rhs::Text(a)), Rhs::Text(b)) => match op {
                "=" => a == *b,
                "!=" => a != *b,
                "LIKE" => like(&a, b),
                "ILIKE" => like(&a.to_lowercase(), &b.to_lowercase()),
                _ => false,
            },
            ("IN", Some(Rhs::Text(a)), Rhs::List(l)) => l.contains(&a),
            ("NOT IN", Some(Rhs::Text(a)), Rhs::List(l)) => !l.contains(&a),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RunStatus;
    use std::collections::BTreeMap;

    fn run(name: &str, auc: f64, depth: &str) -> RunRow {
        RunRow {
            run_id: format!("id-{name}"),
            run_name: name.into(),
            experiment: "e".into(),
            start_time_ms: 1000,
            end_time_ms: Some(2000),
            status: RunStatus::Finished,
            params: BTreeMap::from([("max_depth".into(), depth.into())]),
            metrics: BTreeMap::from([("roc_auc".into(), auc)]),
            tags: BTreeMap::from([("mlflow.runName".into(), name.into())]),
        }
    }

    fn hits(filter: &str, runs: &[RunRow]) -> Vec<String> {
        let f = Filter::parse(filter).unwrap();
        runs.iter()
            .filter(|r| f.matches(r))
            .map(|r| r.run_name.clone())
            .collect()
    }

    #[test]
    fn mlflows_syntax_selects_the_rows_mlflow_would() {
        let runs = [
            run("Train-a", 0.80, "8"),
            run("train-b", 0.90, "12"),
            run("eval", 0.86, "8"),
        ];
        assert_eq!(
            hits("metrics.roc_auc > 0.85 and params.max_depth = '8'", &runs),
            ["eval"]
        );
        assert_eq!(
            hits(
                "metrics.roc_auc >= 0.8 AND params.max_depth != \"8\"",
                &runs
            ),
            ["train-b"]
        );
        assert_eq!(
            hits("attributes.run_name LIKE 'train%'", &runs),
            ["train-b"]
        );
        assert_eq!(
            hits("attributes.run_name ILIKE 'train%'", &runs),
            ["Train-a", "train-b"]
        );
        assert_eq!(hits("tags.\"mlflow.runName\" = 'eval'", &runs), ["eval"]);
        assert_eq!(hits("tags.`mlflow.runName` LIKE '_val'", &runs), ["eval"]);
        assert_eq!(
            hits("attributes.run_id IN ('id-eval', 'id-train-b')", &runs),
            ["train-b", "eval"]
        );
        assert_eq!(
            hits("attributes.run_id NOT IN ('id-eval')", &runs),
            ["Train-a", "train-b"]
        );
        assert_eq!(hits("params.lr IS NULL", &runs).len(), 3);
        assert_eq!(
            hits(
                "params.max_depth IS NOT NULL and metrics.roc_auc < 0.85",
                &runs
            ),
            ["Train-a"]
        );
        assert_eq!(hits("metrics.missing > 0", &runs).len(), 0);
        assert_eq!(hits("", &runs).len(), 3);
    }

    #[test]
    fn what_mlflow_refuses_is_refused_with_a_reason() {
        for (f, why) in [
            ("params.max_depth > 8", "does not apply"),
            ("metrics.roc_auc > 'x'", "takes a number"),
            ("params.max_depth = 8", "quoted text"),
            ("metrics.a > 1 or metrics.b > 1", "OR is not supported"),
            ("max_depth = '8'", "is not metrics.K"),
            ("foo.bar = '8'", "is not metrics, params"),
            ("metrics.a > ", "expected a value"),
            ("attributes.run_id IN 'a'", "takes a list"),
            ("params.a = 'x", "not closed"),
        ] {
            let e = Filter::parse(f).unwrap_err().to_string();
            assert!(e.contains(why), "{f}: {e}");
        }
    }

    #[test]
    fn like_matches_sql() {
        assert!(like("train-7", "train%"));
        assert!(like("train-7", "%-_"));
        assert!(!like("Train", "train"));
        assert!(like("a%b", "a%b"));
        assert!(like("", "%"));
        assert!(!like("abc", "a_"));
        assert!(like("abcbc", "a%bc"));
    }
}
