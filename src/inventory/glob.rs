//! Shell globs (`web*`, `db?`, `[abc]x`, `[!a]`) as regexes, the way
//! Python's `fnmatch.translate` reads them: case-sensitive, whole-name.

/// Whether `name` matches the shell glob `pattern` as a whole.
pub fn matches(pattern: &str, name: &str) -> bool {
    regex::Regex::new(&to_regex(pattern)).is_ok_and(|re| re.is_match(name))
}

/// The regex source for a glob, anchored at both ends.
pub fn to_regex(glob: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::from("^(?s:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => match class_end(&chars, i) {
                Some(end) => {
                    out.push_str(&class(&chars[i..end]));
                    i = end + 1;
                }
                // An unclosed bracket is a literal `[`.
                None => out.push_str("\\["),
            },
            _ => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push_str(")$");
    out
}

/// Index of the `]` closing a class that starts at `start` (just after `[`).
/// A `]` right after `[` or `[!` belongs to the class.
fn class_end(chars: &[char], start: usize) -> Option<usize> {
    let mut j = start;
    if chars.get(j) == Some(&'!') {
        j += 1;
    }
    if chars.get(j) == Some(&']') {
        j += 1;
    }
    (j..chars.len()).find(|&k| chars[k] == ']')
}

fn class(body: &[char]) -> String {
    let (negated, body) = match body.first() {
        Some('!') => (true, &body[1..]),
        _ => (false, body),
    };
    let mut out = String::from(if negated { "[^" } else { "[" });
    for &c in body {
        // Keep `-` as a range operator; escape everything else regex-special.
        if c.is_ascii_punctuation() && c != '-' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push(']');
    out
}
