//! Evaluation of expressions over one row (a JSON object), with KQL's null and conversion rules.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::Value;

use super::{CmpOp, Expr, Func};

/// A runtime value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Val {
    Null,
    Bool(bool),
    Num(f64),
    Int(i64),
    Str(String),
    Time(DateTime<Utc>),
    Span(i64),
    Dyn(Value),
}

pub(super) fn eval(expr: &Expr, row: &Value, now: DateTime<Utc>) -> Val {
    match expr {
        Expr::Path(path) => lookup(row, path),
        Expr::Str(s) => Val::Str(s.clone()),
        Expr::Num(n) => Val::Num(*n),
        Expr::Span(s) => Val::Span(*s),
        Expr::Call(func, args) => call(*func, args.first().map(|a| eval(a, row, now)), now),
        Expr::Cmp(l, op, r) => compare(&eval(l, row, now), *op, &eval(r, row, now)),
        Expr::In {
            value,
            list,
            case_insensitive,
            negated,
        } => {
            let v = eval(value, row, now);
            if is_null(&v) {
                return Val::Bool(*negated);
            }
            let v = to_string(&v);
            let found = list.iter().any(|item| {
                if *case_insensitive {
                    item.to_lowercase() == v.to_lowercase()
                } else {
                    *item == v
                }
            });
            Val::Bool(found != *negated)
        }
        Expr::And(l, r) => Val::Bool(truthy(&eval(l, row, now)) && truthy(&eval(r, row, now))),
        Expr::Or(l, r) => Val::Bool(truthy(&eval(l, row, now)) || truthy(&eval(r, row, now))),
    }
}

pub(super) fn truthy(v: &Val) -> bool {
    matches!(v, Val::Bool(true) | Val::Dyn(Value::Bool(true)))
}

/// KQL's `tostring`: null becomes the empty string, dynamic objects their JSON text.
pub(super) fn to_string(v: &Val) -> String {
    match v {
        Val::Null | Val::Dyn(Value::Null) => String::new(),
        Val::Bool(b) | Val::Dyn(Value::Bool(b)) => b.to_string(),
        Val::Num(n) => n.to_string(),
        Val::Int(i) => i.to_string(),
        Val::Str(s) | Val::Dyn(Value::String(s)) => s.clone(),
        Val::Time(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        Val::Span(s) => s.to_string(),
        Val::Dyn(other) => other.to_string(),
    }
}

pub(super) fn to_json(v: Val) -> Value {
    match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(b),
        Val::Num(n) => serde_json::Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Val::Int(i) => Value::from(i),
        Val::Str(s) => Value::String(s),
        Val::Time(_) | Val::Span(_) => Value::String(to_string(&v)),
        Val::Dyn(d) => d,
    }
}

fn lookup(row: &Value, path: &[String]) -> Val {
    let mut current = row;
    for key in path {
        let next = match current {
            Value::Object(map) => map.get(key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(v) => current = v,
            None => return Val::Null,
        }
    }
    match current {
        Value::Null => Val::Null,
        other => Val::Dyn(other.clone()),
    }
}

fn is_null(v: &Val) -> bool {
    matches!(v, Val::Null | Val::Dyn(Value::Null))
}

fn call(func: Func, arg: Option<Val>, now: DateTime<Utc>) -> Val {
    let arg = arg.unwrap_or(Val::Null);
    match func {
        Func::ToString => Val::Str(to_string(&arg)),
        Func::ToLower => Val::Str(to_string(&arg).to_lowercase()),
        Func::ToInt => to_number(&arg)
            .map(|n| Val::Int(n.trunc() as i64))
            .unwrap_or(Val::Null),
        Func::ToReal => to_number(&arg).map(Val::Num).unwrap_or(Val::Null),
        Func::ToDateTime => to_time(&arg).map(Val::Time).unwrap_or(Val::Null),
        Func::IsNull => Val::Bool(is_null(&arg)),
        Func::IsNotNull => Val::Bool(!is_null(&arg)),
        Func::IsEmpty => Val::Bool(to_string(&arg).is_empty()),
        Func::IsNotEmpty => Val::Bool(!to_string(&arg).is_empty()),
        Func::Not => Val::Bool(!truthy(&arg)),
        Func::Ago => match arg {
            Val::Span(s) => Val::Time(now - Duration::seconds(s)),
            _ => Val::Null,
        },
        Func::Now => Val::Time(now),
    }
}

fn to_number(v: &Val) -> Option<f64> {
    match v {
        Val::Num(n) => Some(*n),
        Val::Int(i) => Some(*i as f64),
        Val::Dyn(Value::Number(n)) => n.as_f64(),
        Val::Str(s) | Val::Dyn(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

fn to_time(v: &Val) -> Option<DateTime<Utc>> {
    match v {
        Val::Time(t) => Some(*t),
        Val::Str(s) | Val::Dyn(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}

fn compare(l: &Val, op: CmpOp, r: &Val) -> Val {
    use std::cmp::Ordering;
    if is_null(l) || is_null(r) {
        // Comparisons with null are false in KQL, except inequality.
        return Val::Bool(matches!(op, CmpOp::Ne | CmpOp::NeCi) && is_null(l) != is_null(r));
    }
    let ordering = match (l, r) {
        (Val::Time(a), Val::Time(b)) => Some(a.cmp(b)),
        _ => match (to_number(l), to_number(r)) {
            (Some(a), Some(b)) => a.partial_cmp(&b),
            _ => None,
        },
    };
    let (ls, rs) = (to_string(l), to_string(r));
    let ordering = ordering.unwrap_or_else(|| ls.cmp(&rs));
    Val::Bool(match op {
        CmpOp::EqCi => ls.to_lowercase() == rs.to_lowercase(),
        CmpOp::NeCi => ls.to_lowercase() != rs.to_lowercase(),
        CmpOp::Eq => ordering == Ordering::Equal,
        CmpOp::Ne => ordering != Ordering::Equal,
        CmpOp::Lt => ordering == Ordering::Less,
        CmpOp::Le => ordering != Ordering::Greater,
        CmpOp::Gt => ordering == Ordering::Greater,
        CmpOp::Ge => ordering != Ordering::Less,
    })
}
