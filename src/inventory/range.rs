//! Host ranges: `web[01:20]`, `db-[a:c]`, `h[0:10:2]`, several per name.

const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Expands every `[begin:end(:step)]` in `pattern`, left to right. A name
/// without `[` is returned as is. Bounds are inclusive; a zero-padded begin
/// (`01`) pads every number to its width and then the end must be as wide.
pub fn expand(pattern: &str) -> Result<Vec<String>, String> {
    let Some(open) = pattern.find('[') else {
        return Ok(vec![pattern.to_string()]);
    };
    let close = pattern[open..]
        .find(']')
        .map(|i| open + i)
        .ok_or_else(|| format!("unterminated host range in '{pattern}'"))?;
    let (head, inner, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let mut names = Vec::new();
    for item in range_items(inner)? {
        let name = format!("{head}{item}{tail}");
        if name.contains('[') {
            names.extend(expand(&name)?);
        } else {
            names.push(name);
        }
    }
    Ok(names)
}

/// The values one range stands for, already formatted.
fn range_items(inner: &str) -> Result<Vec<String>, String> {
    let bounds: Vec<&str> = inner.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err(format!(
            "host range [{inner}] must be begin:end or begin:end:step"
        ));
    }
    let begin = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err(format!("host range [{inner}] must specify an end value"));
    }
    let step = match bounds.get(2) {
        None => 1,
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("host range [{inner}] has an invalid step '{s}'")),
        },
    };
    let width = if begin.len() > 1 && begin.starts_with('0') {
        if begin.len() != end.len() {
            return Err(format!(
                "host range [{inner}]: begin and end must have the same width when zero-padded \
                 ('{begin}' has {} digits, '{end}' has {})",
                begin.len(),
                end.len()
            ));
        }
        begin.len()
    } else {
        0
    };
    if let (Some(b), Some(e)) = (letter_index(begin), letter_index(end)) {
        if b > e {
            return Err(format!("host range [{inner}] must have begin <= end"));
        }
        return Ok(LETTERS[b..=e]
            .chars()
            .step_by(step as usize)
            .map(String::from)
            .collect());
    }
    let parse = |s: &str| {
        s.trim().parse::<i64>().map_err(|_| {
            format!("host range [{inner}] must be numeric or single letters, got '{s}'")
        })
    };
    let (b, e) = (parse(begin)?, parse(end)?);
    // A numeric range with begin > end is simply empty, as in Ansible.
    Ok((b..=e)
        .step_by(step as usize)
        .map(|n| format!("{n:0width$}"))
        .collect())
}

fn letter_index(s: &str) -> Option<usize> {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => LETTERS.find(c),
        _ => None,
    }
}
