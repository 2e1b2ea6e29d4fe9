//! The `mode` argument shared by `file`, `copy`, `template` and friends.
//!
//! Ansible accepts a number (used as is, so an unquoted YAML `644` is the
//! decimal 644), a string of octal digits, the word `preserve`, or chmod-style
//! symbolic clauses applied to the file's current permissions.

use serde_json::Value;
use std::sync::OnceLock;

/// A parsed `mode` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeSpec {
    /// Permission bits, already reduced to `0o7777` as `chmod` reduces them.
    Octal(u32),
    /// Comma-separated symbolic clauses such as `u=rw,g=r,o=r` (syntax checked).
    Symbolic(String),
    /// Copy the source file's permissions (`copy`, `template`).
    Preserve,
}

const PERM_BITS: u32 = 0o7777;
const EXEC_BITS: u32 = 0o111;
/// Permissions a newly created file or directory gets before the umask.
const NEW_FILE: u32 = 0o666;
const NEW_DIR: u32 = 0o777;

/// Parses a `mode` value as the module receives it.
///
/// A JSON `null` means "no mode" to Ansible; callers are expected to skip the
/// argument rather than pass it here, so it is an error.
pub fn parse(value: &Value) -> Result<ModeSpec, String> {
    match value {
        // Python's bool is an int, so `mode: true` really means 0o1.
        Value::Bool(b) => Ok(ModeSpec::Octal(u32::from(*b))),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Ok(ModeSpec::Octal((u & u64::from(PERM_BITS)) as u32))
            } else if let Some(i) = n.as_i64() {
                Ok(ModeSpec::Octal(mask_signed(i128::from(i))))
            } else {
                Err(form_error(&format!("{n} is not an integer")))
            }
        }
        Value::String(s) if s == "preserve" => Ok(ModeSpec::Preserve),
        Value::String(s) => match python_octal(s) {
            Some(v) => Ok(ModeSpec::Octal(mask_signed(v))),
            None => {
                // Validate now so a bad mode fails before anything is touched.
                apply_symbolic(s, 0, false, 0)?;
                Ok(ModeSpec::Symbolic(s.clone()))
            }
        },
        other => Err(form_error(&format!("{other} is not a mode"))),
    }
}

/// The final permission bits for `spec`.
///
/// `current` is the target's present mode, `None` if it does not exist yet
/// (symbolic modes then start from what creating it would give: `0666` or
/// `0777` less the umask). `source_mode` is the source file's mode for
/// `preserve`. Uses this process's umask for symbolic clauses without a
/// `ugoa` prefix; see [`resolve_with_umask`] to supply the target host's.
pub fn resolve(
    spec: &ModeSpec,
    current: Option<u32>,
    is_dir: bool,
    source_mode: Option<u32>,
) -> Result<u32, String> {
    resolve_with_umask(spec, current, is_dir, source_mode, process_umask())
}

/// [`resolve`] with an explicit umask.
pub fn resolve_with_umask(
    spec: &ModeSpec,
    current: Option<u32>,
    is_dir: bool,
    source_mode: Option<u32>,
    umask: u32,
) -> Result<u32, String> {
    match spec {
        ModeSpec::Octal(bits) => Ok(bits & PERM_BITS),
        ModeSpec::Preserve => source_mode.map(|m| m & PERM_BITS).ok_or_else(|| {
            // Without a source (the `file` module) Ansible reads the word as
            // a symbolic mode and rejects it.
            form_error("bad symbolic permission for mode: preserve")
        }),
        ModeSpec::Symbolic(s) => {
            let created = if is_dir { NEW_DIR } else { NEW_FILE };
            let base = current.unwrap_or(created & !umask);
            apply_symbolic(s, base & PERM_BITS, is_dir, umask)
        }
    }
}

/// Formats permission bits the way Ansible reports them: `0644`, `04755`.
pub fn format_mode(bits: u32) -> String {
    format!("0{:03o}", bits & PERM_BITS)
}

fn form_error(details: &str) -> String {
    format!("mode must be in octal or symbolic form ({details})")
}

/// Python masks negative modes in two's complement (`-1` is `07777`).
fn mask_signed(v: i128) -> u32 {
    (v & i128::from(PERM_BITS)) as u32
}

/// Python's `int(s, 8)`: surrounding whitespace, a sign, an optional `0o`
/// prefix and `_` between digits are all accepted.
fn python_octal(s: &str) -> Option<i128> {
    let s = s.trim();
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    // After a prefix one leading underscore is allowed, as in `0o_7`.
    let digits = match s.get(..2) {
        Some("0o" | "0O") => s[2..].strip_prefix('_').unwrap_or(&s[2..]),
        _ => s,
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| matches!(c, '0'..='7' | '_'))
    {
        return None;
    }
    let mut value: i128 = 0;
    for c in digits.chars().filter(|&c| c != '_') {
        // Only the low twelve bits survive, so larger values may wrap freely.
        value = ((value << 3) | i128::from(c as u8 - b'0')) & 0xffff_ffff_ffff;
    }
    Some(if negative { -value } else { value })
}

/// Applies comma-separated symbolic clauses to `mode`.
///
/// Each clause is `[ugoa]*` followed by operator/permission pairs
/// (`u+x-w`). An empty clause changes nothing; an empty `who` means all
/// classes with the umask's bits left alone for `r`, `w` and `x`. Clauses
/// and classes are applied in order, so `X` and the copy permissions
/// (`g=u`) see the result of everything before them.
fn apply_symbolic(spec: &str, mode: u32, is_dir: bool, umask: u32) -> Result<u32, String> {
    let mut mode = mode;
    for clause in spec.split(',') {
        let bad = || form_error(&format!("bad symbolic permission for mode: {clause}"));
        let split = clause.find(['+', '-', '=']).unwrap_or(clause.len());
        let (who, actions) = clause.split_at(split);
        let use_umask = who.is_empty();
        let who = if who.is_empty() || who == "a" {
            "ugo"
        } else {
            who
        };
        if !who.chars().all(|c| matches!(c, 'u' | 'g' | 'o')) {
            return Err(bad());
        }
        // `actions` alternates operators and (possibly empty) permission runs.
        let mut rest = actions;
        while let Some(op) = rest.chars().next() {
            let body = &rest[1..];
            let end = body.find(['+', '-', '=']).unwrap_or(body.len());
            let perms = &body[..end];
            rest = &body[end..];
            if !perms.chars().all(|c| "rwxXstugo".contains(c)) {
                return Err(bad());
            }
            for class in who.chars() {
                let bits = class_bits(class, perms, mode, is_dir, use_umask, umask);
                mode = match op {
                    '+' => mode | bits,
                    '-' => mode & !bits,
                    _ => (mode & !class_mask(class)) | bits,
                };
            }
        }
    }
    Ok(mode)
}

/// The bits `=` clears for a class: its rwx plus its special bit.
fn class_mask(class: char) -> u32 {
    match class {
        'u' => 0o4700,
        'g' => 0o2070,
        _ => 0o1007,
    }
}

/// The bits that `perms` stands for in one class, given the mode so far.
fn class_bits(
    class: char,
    perms: &str,
    mode: u32,
    is_dir: bool,
    use_umask: bool,
    umask: u32,
) -> u32 {
    // rwx bits of this class sit at `shift`.
    let shift = match class {
        'u' => 6,
        'g' => 3,
        _ => 0,
    };
    let allowed = if use_umask { !umask } else { PERM_BITS };
    let copy_from = |src_shift: u32| ((mode >> src_shift) & 0o7) << shift;
    perms
        .chars()
        .map(|p| match p {
            'r' => (0o4 << shift) & allowed,
            'w' => (0o2 << shift) & allowed,
            'x' => (0o1 << shift) & allowed,
            'X' if is_dir || mode & EXEC_BITS != 0 => 0o1 << shift,
            's' if class == 'u' => 0o4000,
            's' if class == 'g' => 0o2000,
            't' if class == 'o' => 0o1000,
            'u' => copy_from(6),
            'g' => copy_from(3),
            'o' => copy_from(0),
            _ => 0,
        })
        .fold(0, |acc, b| acc | b)
}

/// This process's umask, read without changing it (the `umask(2)` dance
/// would briefly affect files other threads create).
fn process_umask() -> u32 {
    static UMASK: OnceLock<u32> = OnceLock::new();
    *UMASK.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("Umask:"))
                    .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            })
            .unwrap_or(0o022)
    })
}

#[cfg(test)]
mod tests {
    //! Expected results were recorded by running ansible-core 2.19's `file`
    //! module (and `copy` for `preserve`) on real files and directories.

    use super::*;

    fn check(
        initial: u32,
        is_dir: bool,
        value: Value,
        umask: u32,
        expect: Result<(u32, &str), &str>,
    ) {
        let got = parse(&value)
            .and_then(|spec| resolve_with_umask(&spec, Some(initial), is_dir, None, umask));
        match (expect, got) {
            (Ok((bits, shown)), Ok(got)) => {
                assert_eq!(got, bits, "{got:o}");
                assert_eq!(format_mode(got), shown);
            }
            (Err(msg), Err(e)) => assert!(e.contains(msg), "{e}"),
            (_, got) => panic!("unexpected {got:?}"),
        }
    }

    /// `name: current mode, is_dir, mode argument, umask => result;`
    macro_rules! mode_cases {
        ($($name:ident: $initial:expr, $is_dir:expr, $value:expr, $umask:expr => $expect:expr;)*) => {
            $(
                #[test]
                fn $name() {
                    check($initial, $is_dir, serde_json::to_value($value).unwrap(), $umask, $expect);
                }
            )*
        };
    }

    mode_cases! {
        num_8191_on_644: 0o644, false, 8191, 0o22 => Ok((0o7777, "07777"));
        str_17777_on_644: 0o644, false, "17777", 0o22 => Ok((0o7777, "07777"));
        num_neg1_on_644: 0o644, false, -1, 0o22 => Ok((0o7777, "07777"));
        str_minus_644_on_644: 0o644, false, "-644", 0o22 => Ok((0o7134, "07134"));
        str_sp_0o644_sp_on_644: 0o644, false, " 0o644 ", 0o22 => Ok((0o644, "0644"));
        str_6_44_on_644: 0o644, false, "6_44", 0o22 => Ok((0o644, "0644"));
        str_u_on_644: 0o644, false, "u", 0o22 => Ok((0o644, "0644"));
        str_empty_on_644: 0o644, false, "", 0o22 => Ok((0o644, "0644"));
        str_ua_plus_x_on_644: 0o644, false, "ua+x", 0o22 => Err("bad symbolic permission for mode: ua+x");
        str_a_plus_x_comma_on_644: 0o644, false, "a+x,", 0o22 => Ok((0o755, "0755"));
        str_u_plus_q_on_644: 0o644, false, "u+q", 0o22 => Err("bad symbolic permission for mode: u+q");
        num_6_5_on_644: 0o644, false, 6.5, 0o22 => Err("mode must be in octal or symbolic form");
        bool_true_on_644: 0o644, false, true, 0o22 => Ok((0o1, "0001"));
        str_preserve_on_644: 0o644, false, "preserve", 0o22 => Err("bad symbolic permission for mode: preserve");
        num_65535_on_644: 0o644, false, 65535, 0o22 => Ok((0o7777, "07777"));
        str_0o7777_on_644: 0o644, false, "0o7777", 0o22 => Ok((0o7777, "07777"));
        num_644_on_644: 0o644, false, 644, 0o22 => Ok((0o1204, "01204"));
        str_644_on_644: 0o644, false, "644", 0o22 => Ok((0o644, "0644"));
        str_0755_on_600: 0o600, false, "0755", 0o22 => Ok((0o755, "0755"));
        str_u_eq_rw_comma_g_eq_r_comma_o_eq_r_on_644: 0o644, false, "u=rw,g=r,o=r", 0o22 => Ok((0o644, "0644"));
        str_u_plus_x_comma_g_minus_w_on_644: 0o644, false, "u+x,g-w", 0o22 => Ok((0o744, "0744"));
        str_a_eq_r_cap_x_on_644: 0o644, false, "a=rX", 0o22 => Ok((0o444, "0444"));
        str_a_eq_r_cap_x_on_755: 0o755, false, "a=rX", 0o22 => Ok((0o555, "0555"));
        str_a_eq_r_cap_x_on_755_dir: 0o755, true, "a=rX", 0o22 => Ok((0o555, "0555"));
        str_go_plus_r_cap_x_on_700_dir: 0o700, true, "go+rX", 0o22 => Ok((0o755, "0755"));
        str_u_plus_x_comma_g_plus_cap_x_on_644: 0o644, false, "u+x,g+X", 0o22 => Ok((0o754, "0754"));
        str_plus_x_on_644: 0o644, false, "+x", 0o22 => Ok((0o755, "0755"));
        str_plus_x_on_644_umask_27: 0o644, false, "+x", 0o27 => Ok((0o754, "0754"));
        str_eq_r_on_777_umask_27: 0o777, false, "=r", 0o27 => Ok((0o440, "0440"));
        str_u_plus_s_comma_g_plus_s_comma_o_plus_t_on_755: 0o755, false, "u+s,g+s,o+t", 0o22 => Ok((0o7755, "07755"));
        str_u_eq_rwx_on_4755: 0o4755, false, "u=rwx", 0o22 => Ok((0o755, "0755"));
        str_g_minus_s_on_2775_dir: 0o2775, true, "g-s", 0o22 => Ok((0o775, "0775"));
        str_g_eq_u_on_640: 0o640, false, "g=u", 0o22 => Ok((0o660, "0660"));
        str_o_eq_g_comma_u_minus_w_on_640: 0o640, false, "o=g,u-w", 0o22 => Ok((0o444, "0444"));
        str_u_eq_o_on_751: 0o751, false, "u=o", 0o22 => Ok((0o151, "0151"));
        str_u_plus_x_minus_r_on_644: 0o644, false, "u+x-r", 0o22 => Ok((0o344, "0344"));
        str_ug_eq_rwx_comma_o_eq_on_644: 0o644, false, "ug=rwx,o=", 0o22 => Ok((0o770, "0770"));
        str_a_minus_r_on_644: 0o644, false, "a-r", 0o22 => Ok((0o200, "0200"));
        str_u_plus_t_comma_o_plus_s_on_644: 0o644, false, "u+t,o+s", 0o22 => Ok((0o644, "0644"));
        str_o_minus_t_on_1777_dir: 0o1777, true, "o-t", 0o22 => Ok((0o777, "0777"));
        str_uu_plus_x_on_644: 0o644, false, "uu+x", 0o22 => Ok((0o744, "0744"));
        str_x_on_644: 0o644, false, "x", 0o22 => Err("bad symbolic permission for mode: x");
        str_u_plus_x_sp_g_plus_x_on_644: 0o644, false, "u+x g+x", 0o22 => Err("bad symbolic permission for mode: u+x g+x");
        str_888_on_644: 0o644, false, "888", 0o22 => Err("bad symbolic permission for mode: 888");
        str_0_on_644: 0o644, false, "0", 0o22 => Ok((0o0, "0000"));
        num_0_on_644: 0o644, false, 0, 0o22 => Ok((0o0, "0000"));
        str_u_eq_rwx_eq_r_on_644: 0o644, false, "u=rwx=r", 0o22 => Ok((0o444, "0444"));
        str_a_plus_rw_minus_x_eq_r_on_600: 0o600, false, "a+rw-x=r", 0o22 => Ok((0o444, "0444"));
        str_a_plus_cap_x_on_644: 0o644, false, "a+X", 0o22 => Ok((0o644, "0644"));
        str_eq_rwx_on_0_dir: 0o0, true, "=rwx", 0o22 => Ok((0o755, "0755"));
        str_u_eq_rwx_comma_g_eq_u_minus_w_comma_o_eq_g_on_644: 0o644, false, "u=rwx,g=u-w,o=g", 0o22 => Ok((0o755, "0755"));
        str_g_plus_u_on_644: 0o644, false, "g+u", 0o22 => Ok((0o664, "0664"));
        str_minus_w_on_644_umask_27: 0o644, false, "-w", 0o27 => Ok((0o444, "0444"));
    }

    #[test]
    fn new_paths_start_from_created_permissions() {
        let spec = |s: &str| parse(&Value::from(s)).unwrap();
        let new = |s, is_dir, umask| resolve_with_umask(&spec(s), None, is_dir, None, umask);
        assert_eq!(new("g+w", false, 0o022), Ok(0o664));
        assert_eq!(new("o-rx", true, 0o022), Ok(0o750));
        assert_eq!(new("u+x", false, 0o077), Ok(0o700));
        assert_eq!(new("g-x", true, 0o027), Ok(0o740));
    }

    #[test]
    fn preserve_copies_the_source_mode() {
        let spec = parse(&Value::from("preserve")).unwrap();
        assert_eq!(spec, ModeSpec::Preserve);
        let bits = resolve_with_umask(&spec, Some(0o644), false, Some(0o104751), 0o022).unwrap();
        assert_eq!(format_mode(bits), "04751");
    }

    #[test]
    fn parse_keeps_the_forms_apart() {
        assert_eq!(parse(&Value::from(420)), Ok(ModeSpec::Octal(0o644)));
        assert_eq!(parse(&Value::from("0644")), Ok(ModeSpec::Octal(0o644)));
        assert_eq!(
            parse(&Value::from("u=rw,g=r")),
            Ok(ModeSpec::Symbolic("u=rw,g=r".into()))
        );
        assert!(parse(&Value::Null).is_err());
        assert!(parse(&Value::from("0o")).is_err());
        assert!(parse(&Value::from("6__44")).is_err());
    }

    #[test]
    fn resolve_uses_a_umask() {
        // Whatever this process's umask is, explicit classes ignore it.
        let spec = parse(&Value::from("u=rwx,go=rx")).unwrap();
        assert_eq!(resolve(&spec, Some(0), false, None), Ok(0o755));
    }
}
