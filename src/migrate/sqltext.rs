//! A small tokenizer for the SQLite SQL kept in `sqlite_master`: enough to
//! find CHECK constraints, take CREATE INDEX statements apart and re-emit
//! expressions for PostgreSQL with identifiers renamed and quoted.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A bare word: keyword, identifier or function name.
    Word(String),
    /// `"x"`, `[x]` or `` `x` ``, unquoted.
    Ident(String),
    /// A string literal, quotes included (`'it''s'`).
    Str(String),
    Num(String),
    /// Operators and punctuation: `(`, `)`, `,`, `.`, `=`, `==`, `<>`, `||`, …
    Op(String),
    Space,
}

/// Splits `sql` into tokens; comments become spaces. Unterminated quotes
/// are an error naming the position.
pub fn tokenize(sql: &str) -> Result<Vec<Tok>, String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            out.push(Tok::Space);
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            out.push(Tok::Space);
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let end = sql[i + 2..]
                .find("*/")
                .ok_or_else(|| format!("unterminated comment at offset {i}"))?;
            i += end + 4;
            out.push(Tok::Space);
        } else if c == b'\'' {
            let start = i;
            i = close_quote(b, i, b'\'')?;
            out.push(Tok::Str(sql[start..i].to_string()));
        } else if c == b'"' || c == b'`' {
            let start = i;
            i = close_quote(b, i, c)?;
            let q = c as char;
            let inner = &sql[start + 1..i - 1];
            out.push(Tok::Ident(
                inner.replace(&format!("{q}{q}"), &q.to_string()),
            ));
        } else if c == b'[' {
            let end = sql[i..]
                .find(']')
                .ok_or_else(|| format!("unterminated [identifier] at offset {i}"))?;
            out.push(Tok::Ident(sql[i + 1..i + end].to_string()));
            i += end + 1;
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric()
                    || b[i] == b'.'
                    || ((b[i] == b'+' || b[i] == b'-') && matches!(b[i - 1], b'e' | b'E')))
            {
                i += 1;
            }
            out.push(Tok::Num(sql[start..i].to_string()));
        } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] >= 0x80)
            {
                i += 1;
            }
            out.push(Tok::Word(sql[start..i].to_string()));
        } else {
            let two = sql.get(i..i + 2).unwrap_or("");
            let op = match two {
                "==" | "!=" | "<>" | "<=" | ">=" | "||" | "<<" | ">>" => two,
                _ => &sql[i..i + 1],
            };
            i += op.len();
            out.push(Tok::Op(op.to_string()));
        }
    }
    Ok(out)
}

fn close_quote(b: &[u8], start: usize, q: u8) -> Result<usize, String> {
    let mut i = start + 1;
    loop {
        match b.get(i) {
            None => return Err(format!("unterminated quote at offset {start}")),
            Some(&c) if c == q => {
                if b.get(i + 1) == Some(&q) {
                    i += 2;
                } else {
                    return Ok(i + 1);
                }
            }
            Some(_) => i += 1,
        }
    }
}

pub fn is_word(t: &Tok, w: &str) -> bool {
    matches!(t, Tok::Word(x) if x.eq_ignore_ascii_case(w))
}

pub fn is_op(t: &Tok, o: &str) -> bool {
    matches!(t, Tok::Op(x) if x == o)
}

/// Index of the next non-space token at or after `i`.
pub fn skip_space(toks: &[Tok], mut i: usize) -> usize {
    while i < toks.len() && toks[i] == Tok::Space {
        i += 1;
    }
    i
}

/// With `toks[open]` an opening parenthesis: the index of its partner.
pub fn matching_paren(toks: &[Tok], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate().skip(open) {
        if is_op(t, "(") {
            depth += 1;
        } else if is_op(t, ")") {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// Splits a token list at top-level commas.
pub fn split_commas(toks: &[Tok]) -> Vec<&[Tok]> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        if is_op(t, "(") {
            depth += 1;
        } else if is_op(t, ")") {
            depth -= 1;
        } else if depth == 0 && is_op(t, ",") {
            out.push(&toks[start..i]);
            start = i + 1;
        }
    }
    out.push(&toks[start..]);
    out
}

/// The plain name a token stands for, if it is a word or quoted identifier.
pub fn name_of(t: &Tok) -> Option<&str> {
    match t {
        Tok::Word(w) | Tok::Ident(w) => Some(w),
        _ => None,
    }
}

/// A CHECK constraint found in a CREATE TABLE statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckClause {
    pub name: Option<String>,
    /// The tokens between the parentheses.
    pub expr: Vec<Tok>,
}

/// Every CHECK (…) in a CREATE TABLE statement, column-level and table-level.
pub fn checks_of_create_table(sql: &str) -> Result<Vec<CheckClause>, String> {
    let toks = tokenize(sql)?;
    let Some(open) = toks.iter().position(|t| is_op(t, "(")) else {
        return Ok(Vec::new());
    };
    let close = matching_paren(&toks, open).ok_or("unbalanced parentheses")?;
    let mut out = Vec::new();
    let body = &toks[open + 1..close];
    let mut i = 0;
    let mut depth = 0i32;
    while i < body.len() {
        let t = &body[i];
        if is_op(t, "(") {
            depth += 1;
        } else if is_op(t, ")") {
            depth -= 1;
        } else if depth == 0 && is_word(t, "CHECK") {
            let p = skip_space(body, i + 1);
            if p < body.len() && is_op(&body[p], "(") {
                let end = matching_paren(body, p).ok_or("unbalanced CHECK")?;
                out.push(CheckClause {
                    name: constraint_name_before(body, i),
                    expr: body[p + 1..end].to_vec(),
                });
                i = end + 1;
                continue;
            }
        }
        i += 1;
    }
    Ok(out)
}

/// `CONSTRAINT name` right before token `i`.
fn constraint_name_before(toks: &[Tok], i: usize) -> Option<String> {
    let words: Vec<&Tok> = toks[..i]
        .iter()
        .rev()
        .filter(|t| **t != Tok::Space)
        .take(2)
        .collect();
    match words.as_slice() {
        [name, kw] if is_word(kw, "CONSTRAINT") => name_of(name).map(str::to_string),
        _ => None,
    }
}

/// A CREATE INDEX statement taken apart.
#[derive(Debug, Clone)]
pub struct IndexSql {
    pub unique: bool,
    pub name: String,
    pub table: String,
    /// One token list per indexed column or expression.
    pub items: Vec<Vec<Tok>>,
    pub where_: Option<Vec<Tok>>,
}

pub fn parse_create_index(sql: &str) -> Result<IndexSql, String> {
    let toks: Vec<Tok> = tokenize(sql)?;
    let words: Vec<usize> = (0..toks.len()).filter(|&i| toks[i] != Tok::Space).collect();
    let at = |k: usize| words.get(k).map(|&i| &toks[i]);
    let mut k = 0;
    if !at(k).is_some_and(|t| is_word(t, "CREATE")) {
        return Err("not a CREATE INDEX statement".into());
    }
    k += 1;
    let unique = at(k).is_some_and(|t| is_word(t, "UNIQUE"));
    if unique {
        k += 1;
    }
    if !at(k).is_some_and(|t| is_word(t, "INDEX")) {
        return Err("not a CREATE INDEX statement".into());
    }
    k += 1;
    if at(k).is_some_and(|t| is_word(t, "IF")) {
        k += 3;
    }
    let mut name = at(k).and_then(name_of).ok_or("index name")?.to_string();
    k += 1;
    if at(k).is_some_and(|t| is_op(t, ".")) {
        name = at(k + 1).and_then(name_of).ok_or("index name")?.to_string();
        k += 2;
    }
    if !at(k).is_some_and(|t| is_word(t, "ON")) {
        return Err("expected ON after the index name".into());
    }
    k += 1;
    let table = at(k).and_then(name_of).ok_or("table name")?.to_string();
    k += 1;
    let open = *words.get(k).ok_or("expected a column list")?;
    if !is_op(&toks[open], "(") {
        return Err("expected a column list".into());
    }
    let close = matching_paren(&toks, open).ok_or("unbalanced parentheses")?;
    let items = split_commas(&toks[open + 1..close])
        .into_iter()
        .map(trim)
        .collect();
    let rest: Vec<Tok> = toks[close + 1..].to_vec();
    let r = skip_space(&rest, 0);
    let where_ = if r < rest.len() {
        if !is_word(&rest[r], "WHERE") {
            return Err(format!("unexpected text after the column list: {rest:?}"));
        }
        let mut w = trim(&rest[r + 1..]);
        while w.last().is_some_and(|t| is_op(t, ";")) {
            w.pop();
        }
        Some(w)
    } else {
        None
    };
    Ok(IndexSql {
        unique,
        name,
        table,
        items,
        where_,
    })
}

/// The tokens without leading and trailing spaces.
pub fn trim(toks: &[Tok]) -> Vec<Tok> {
    let start = skip_space(toks, 0);
    let mut end = toks.len();
    while end > start && toks[end - 1] == Tok::Space {
        end -= 1;
    }
    toks[start..end].to_vec()
}

/// Writes tokens back as text.
pub fn render(toks: &[Tok]) -> String {
    let mut s = String::new();
    for t in toks {
        match t {
            Tok::Word(w) | Tok::Num(w) | Tok::Op(w) | Tok::Str(w) => s.push_str(w),
            Tok::Ident(w) => s.push_str(&quote_ident(w)),
            Tok::Space => s.push(' '),
        }
    }
    s
}

/// `"name"` with inner quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_found_at_both_levels() {
        let sql = "CREATE TABLE t (a INTEGER CHECK (a > 0), \"b c\" TEXT, \
                   CONSTRAINT pos CHECK (length(\"b c\") < 5), x TEXT DEFAULT ('CHECK (no)'))";
        let c = checks_of_create_table(sql).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(render(&c[0].expr), "a > 0");
        assert_eq!(c[1].name.as_deref(), Some("pos"));
        assert_eq!(render(&c[1].expr), "length(\"b c\") < 5");
    }

    #[test]
    fn create_index_parts() {
        let i = parse_create_index(
            "CREATE UNIQUE INDEX IF NOT EXISTS main.ix ON [Users] (lower(email), id DESC) WHERE status <> 'done'",
        )
        .unwrap();
        assert!(i.unique);
        assert_eq!(i.name, "ix");
        assert_eq!(i.table, "Users");
        assert_eq!(i.items.len(), 2);
        assert_eq!(render(&i.items[0]), "lower(email)");
        assert_eq!(render(i.where_.as_ref().unwrap()), "status <> 'done'");
    }

    #[test]
    fn quotes_and_comments() {
        let t = tokenize("'it''s' -- c\n [a]]").unwrap();
        assert_eq!(t[0], Tok::Str("'it''s'".into()));
        assert!(tokenize("'open").is_err());
    }
}
