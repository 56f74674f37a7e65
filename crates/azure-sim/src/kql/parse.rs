//! Lexer and recursive-descent parser for the supported KQL subset.

use super::{CmpOp, Column, Expr, Func, Join, Plan, Table};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Span(i64),
    Sym(&'static str),
}

const SYMBOLS: [&str; 18] = [
    "=~", "!~", "==", "!=", "<=", ">=", "|", "(", ")", "[", "]", ".", ",", "=", "<", ">", "~", "!",
];

/// Parses a query of the supported subset into a [`Plan`].
pub fn parse(text: &str) -> Result<Plan, String> {
    plan(&lex(text)?)
}

/// The plan of a (sub)query's tokens.
fn plan(tokens: &[Tok]) -> Result<Plan, String> {
    let stages = split_stages(tokens)?;
    let (first, rest) = stages.split_first().ok_or("empty query")?;
    let table = match first {
        [Tok::Ident(table)] if table.eq_ignore_ascii_case("Resources") => Table::Resources,
        [Tok::Ident(table)] if table.eq_ignore_ascii_case("ResourceContainers") => {
            Table::ResourceContainers
        }
        _ => {
            return Err(
                "only the `Resources` and `ResourceContainers` tables are supported".into(),
            );
        }
    };
    let mut plan = Plan {
        table,
        ..Plan::default()
    };
    for stage in rest {
        apply_stage(&mut plan, stage)?;
    }
    Ok(plan)
}

/// The stages between the pipes that are not inside parentheses (a `join`'s subquery keeps its
/// own).
fn split_stages(tokens: &[Tok]) -> Result<Vec<&[Tok]>, String> {
    let (mut stages, mut start, mut depth) = (Vec::new(), 0, 0usize);
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Tok::Sym("(") => depth += 1,
            Tok::Sym(")") => depth = depth.checked_sub(1).ok_or("unbalanced `)`")?,
            Tok::Sym("|") if depth == 0 => {
                stages.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced `(`".into());
    }
    stages.push(&tokens[start..]);
    Ok(stages)
}

fn apply_stage(plan: &mut Plan, stage: &[Tok]) -> Result<(), String> {
    let (op, rest) = match stage.split_first() {
        Some((Tok::Ident(op), rest)) => (op.to_ascii_lowercase(), rest),
        _ => return Err("empty pipeline stage".into()),
    };
    // Filters and `extend` run on the table's own row, joins then add columns, and `project`
    // picks from the result: other orders are not supported.
    let joined = !plan.joins.is_empty();
    if plan.projection.is_some() && matches!(op.as_str(), "where" | "filter" | "extend" | "join") {
        return Err(format!("`{op}` after `project` is not supported"));
    }
    if (joined || !plan.extends.is_empty()) && (op == "where" || op == "filter") {
        return Err("`where` after `extend` or `join` is not supported".into());
    }
    if joined && op == "extend" {
        return Err("`extend` after `join` is not supported".into());
    }
    match op.as_str() {
        "where" | "filter" => plan.filters.push(Parser::complete(rest, Parser::or)?),
        "extend" => plan
            .extends
            .extend(Parser::complete(rest, Parser::columns)?),
        "join" => plan.joins.push(join(rest)?),
        "project" => plan.projection = Some(Parser::complete(rest, Parser::columns)?),
        "order" | "sort" => plan.order = Some(order(rest)?),
        "limit" | "take" => match rest {
            [Tok::Num(n)] if *n >= 0.0 => plan.limit = Some(*n as usize),
            _ => return Err("`limit` needs a number".into()),
        },
        other => return Err(format!("the operator `{other}` is not supported")),
    }
    Ok(())
}

/// `kind=leftouter (subquery) on column, …` (the part after `join`). Only the left outer
/// flavour is supported: the other flavours drop or add rows, which the simulator's paging by
/// source row does not model.
fn join(rest: &[Tok]) -> Result<Join, String> {
    let rest = match rest {
        [
            Tok::Ident(kind),
            Tok::Sym("="),
            Tok::Ident(flavour),
            rest @ ..,
        ] if kind.eq_ignore_ascii_case("kind") => {
            if !flavour.eq_ignore_ascii_case("leftouter") {
                return Err(format!("the join kind `{flavour}` is not supported"));
            }
            rest
        }
        _ => return Err("only `join kind=leftouter` is supported".into()),
    };
    let Some((Tok::Sym("("), rest)) = rest.split_first() else {
        return Err("expected `(` and the joined subquery".into());
    };
    let mut depth = 1usize;
    let close = rest
        .iter()
        .position(|t| {
            match t {
                Tok::Sym("(") => depth += 1,
                Tok::Sym(")") => depth -= 1,
                _ => {}
            }
            depth == 0
        })
        .ok_or("unbalanced `(`")?;
    let right = plan(&rest[..close])?;
    if !right.joins.is_empty() || right.order.is_some() || right.limit.is_some() {
        return Err("a joined subquery with `join`, `order` or `limit` is not supported".into());
    }
    let keys = match rest[close + 1..].split_first() {
        Some((Tok::Ident(on), keys)) if on.eq_ignore_ascii_case("on") => keys,
        _ => return Err("expected `on` and the join's columns".into()),
    };
    let keys = keys
        .split(|t| *t == Tok::Sym(","))
        .map(|key| match key {
            [Tok::Ident(name)] => Ok(name.clone()),
            _ => Err("only `on column, …` join keys are supported".to_owned()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Join {
        right: Box::new(right),
        keys,
    })
}

fn order(rest: &[Tok]) -> Result<(Expr, bool), String> {
    let Some((Tok::Ident(by), rest)) = rest.split_first() else {
        return Err("expected `by`".into());
    };
    if !by.eq_ignore_ascii_case("by") {
        return Err("expected `by`".into());
    }
    let (rest, desc) = match rest.split_last() {
        Some((Tok::Ident(d), head)) if d.eq_ignore_ascii_case("desc") => (head, true),
        Some((Tok::Ident(d), head)) if d.eq_ignore_ascii_case("asc") => (head, false),
        // KQL's default order is descending.
        _ => (rest, true),
    };
    Ok((Parser::complete(rest, Parser::or)?, desc))
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            let (tok, next) = number(&chars, i)?;
            tokens.push(tok);
            i = next;
        } else if c == '\'' || c == '"' {
            let end = chars[i + 1..]
                .iter()
                .position(|x| *x == c)
                .ok_or("unterminated string")?;
            tokens.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let sym = SYMBOLS
                .iter()
                .find(|s| rest.starts_with(**s))
                .ok_or(format!("unexpected `{c}`"))?;
            tokens.push(Tok::Sym(sym));
            i += sym.len();
        }
    }
    Ok(tokens)
}

fn number(chars: &[char], mut i: usize) -> Result<(Tok, usize), String> {
    let start = i;
    while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
        i += 1;
    }
    let value: f64 = chars[start..i]
        .iter()
        .collect::<String>()
        .parse()
        .map_err(|_| "bad number")?;
    let unit_start = i;
    while i < chars.len() && chars[i].is_ascii_alphabetic() {
        i += 1;
    }
    let unit: String = chars[unit_start..i].iter().collect();
    let seconds = match unit.as_str() {
        "" => return Ok((Tok::Num(value), i)),
        "d" => 86_400.0,
        "h" => 3_600.0,
        "m" => 60.0,
        "s" => 1.0,
        other => return Err(format!("unknown timespan unit `{other}`")),
    };
    Ok((Tok::Span((value * seconds) as i64), i))
}

struct Parser<'a> {
    tokens: &'a [Tok],
    pos: usize,
}

impl<'a> Parser<'a> {
    /// Runs `rule` over all of `tokens`, failing on leftovers.
    fn complete<T>(
        tokens: &'a [Tok],
        rule: fn(&mut Self) -> Result<T, String>,
    ) -> Result<T, String> {
        let mut p = Parser { tokens, pos: 0 };
        let out = rule(&mut p)?;
        match p.peek() {
            None => Ok(out),
            Some(t) => Err(format!("unexpected {t:?}")),
        }
    }

    fn peek(&self) -> Option<&'a Tok> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<&'a Tok> {
        let t = self.tokens.get(self.pos);
        self.pos += 1;
        t
    }

    fn eat_sym(&mut self, sym: &str) -> bool {
        let hit = matches!(self.peek(), Some(Tok::Sym(s)) if *s == sym);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let hit = matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(word));
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect_sym(&mut self, sym: &str) -> Result<(), String> {
        if self.eat_sym(sym) {
            Ok(())
        } else {
            Err(format!("expected `{sym}`"))
        }
    }

    fn columns(&mut self) -> Result<Vec<Column>, String> {
        let mut columns = vec![self.column()?];
        while self.eat_sym(",") {
            columns.push(self.column()?);
        }
        Ok(columns)
    }

    fn column(&mut self) -> Result<Column, String> {
        if let (Some(Tok::Ident(alias)), Some(Tok::Sym("="))) =
            (self.peek(), self.tokens.get(self.pos + 1))
        {
            self.pos += 2;
            return Ok(Column {
                name: alias.clone(),
                expr: self.or()?,
            });
        }
        match self.or()? {
            Expr::Path(path) => Ok(Column {
                name: path.join("_"),
                expr: Expr::Path(path),
            }),
            _ => Err("a computed column needs a name (`name = expression`)".into()),
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.eat_word("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.comparison()?;
        while self.eat_word("and") {
            left = Expr::And(Box::new(left), Box::new(self.comparison()?));
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let left = self.primary()?;
        if let Some(negated) = self.in_operator() {
            let case_insensitive = self.eat_sym("~");
            return Ok(Expr::In {
                value: Box::new(left),
                list: self.string_list()?,
                case_insensitive,
                negated,
            });
        }
        let op = match self.peek() {
            Some(Tok::Sym(s)) => match *s {
                "=~" => CmpOp::EqCi,
                "!~" => CmpOp::NeCi,
                "==" => CmpOp::Eq,
                "!=" => CmpOp::Ne,
                "<" => CmpOp::Lt,
                "<=" => CmpOp::Le,
                ">" => CmpOp::Gt,
                ">=" => CmpOp::Ge,
                _ => return Ok(left),
            },
            Some(Tok::Ident(word))
                if !["and", "or", "asc", "desc"].contains(&word.to_ascii_lowercase().as_str()) =>
            {
                return Err(format!("the operator `{word}` is not supported"));
            }
            _ => return Ok(left),
        };
        self.pos += 1;
        Ok(Expr::Cmp(Box::new(left), op, Box::new(self.primary()?)))
    }

    /// `in`, `in~`, `!in`, `!in~`: `Some(negated)` with the `in` consumed (not the `~`).
    fn in_operator(&mut self) -> Option<bool> {
        let at = |k: usize| self.tokens.get(self.pos + k);
        let negated = matches!(at(0), Some(Tok::Sym("!")));
        let word = at(usize::from(negated));
        if !matches!(word, Some(Tok::Ident(w)) if w.eq_ignore_ascii_case("in")) {
            return None;
        }
        self.pos += 1 + usize::from(negated);
        Some(negated)
    }

    /// `('a', 'b', …)`.
    fn string_list(&mut self) -> Result<Vec<String>, String> {
        self.expect_sym("(")?;
        let mut list = Vec::new();
        loop {
            match self.next() {
                Some(Tok::Str(s)) => list.push(s.clone()),
                other => return Err(format!("expected a string in the `in` list, got {other:?}")),
            }
            if self.eat_sym(")") {
                return Ok(list);
            }
            self.expect_sym(",")?;
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::Sym("(")) => {
                let inner = self.or()?;
                self.expect_sym(")")?;
                Ok(inner)
            }
            Some(Tok::Str(s)) => Ok(Expr::Str(s.clone())),
            Some(Tok::Num(n)) => Ok(Expr::Num(*n)),
            Some(Tok::Span(s)) => Ok(Expr::Span(*s)),
            Some(Tok::Ident(name)) if self.eat_sym("(") => self.call(name),
            Some(Tok::Ident(name)) => self.path(name),
            other => Err(format!("unexpected {other:?}")),
        }
    }

    fn call(&mut self, name: &str) -> Result<Expr, String> {
        let func = match name.to_ascii_lowercase().as_str() {
            "tostring" => Func::ToString,
            "toint" | "tolong" => Func::ToInt,
            "toreal" | "todouble" => Func::ToReal,
            "todatetime" => Func::ToDateTime,
            "tolower" => Func::ToLower,
            "isnull" => Func::IsNull,
            "isnotnull" => Func::IsNotNull,
            "isempty" => Func::IsEmpty,
            "isnotempty" => Func::IsNotEmpty,
            "not" => Func::Not,
            "ago" => Func::Ago,
            "now" => Func::Now,
            other => return Err(format!("the function `{other}` is not supported")),
        };
        let mut args = Vec::new();
        if !self.eat_sym(")") {
            args.push(self.or()?);
            while self.eat_sym(",") {
                args.push(self.or()?);
            }
            self.expect_sym(")")?;
        }
        let arity = if func == Func::Now { 0 } else { 1 };
        if args.len() != arity {
            return Err(format!("`{name}` takes {arity} argument(s)"));
        }
        Ok(Expr::Call(func, args))
    }

    fn path(&mut self, first: &str) -> Result<Expr, String> {
        let mut path = vec![first.to_owned()];
        loop {
            if self.eat_sym(".") {
                match self.next() {
                    Some(Tok::Ident(key)) => path.push(key.clone()),
                    other => return Err(format!("expected a property name, got {other:?}")),
                }
            } else if self.eat_sym("[") {
                match self.next() {
                    Some(Tok::Str(key)) => path.push(key.clone()),
                    Some(Tok::Num(n)) => path.push(format!("{n}")),
                    other => return Err(format!("expected an index, got {other:?}")),
                }
                self.expect_sym("]")?;
            } else {
                return Ok(Expr::Path(path));
            }
        }
    }
}
