//! Parsing YAML into positioned [`Node`]s the way PyYAML's SafeLoader (YAML 1.1) reads it.
//!
//! saphyr's own loader resolves scalars by YAML 1.2 rules and drops their style, so we
//! drive the event parser underneath it and build the tree ourselves: that keeps the raw
//! text and style of every scalar, the exact position of every node, and lets us apply
//! merge keys, Python-style duplicate keys and our own alias budget.

use super::node::{Node, NodeKind, YamlError};
use crate::diag::{Diagnostic, SourceFile, Span};
use regex::Regex;
use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Tag};
use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;
use std::path::Path;
use std::sync::{Arc, LazyLock};

/// Most nodes that alias expansion may produce in one document ("billion laughs" guard).
const MAX_ALIAS_NODES: usize = 1_000_000;
/// Deepest collection nesting accepted; deeper input is hostile and would exhaust the stack
/// in the recursive code that later walks the tree.
const MAX_DEPTH: usize = 1_000;

const CORE_TAG_PREFIX: &str = "tag:yaml.org,2002:";

const TEMPLATE_HINT: &str = "quote the whole value: key: \"{{ var }}\"";

/// Parses exactly one YAML document. An empty stream gives a null node at 1:1.
/// A whole vault-encrypted file is decrypted first, and its strings are secret.
pub fn load_str(path: &Path, text: &str) -> Result<Node, YamlError> {
    if crate::vault::format::is_vault(text.as_bytes()) {
        let origin = path.display().to_string();
        let plain = crate::vault::open_file_text(text, &origin)
            .map_err(|e| YamlError(Diagnostic::new(&Span::synthetic(&origin), e.to_string())))?;
        // Errors in the decrypted text give their position but never quote it.
        let node = load_str(path, &plain).map_err(|YamlError(mut d)| {
            d.span = Span::new(SourceFile::new(path, ""), d.span.line, d.span.col);
            YamlError(d)
        })?;
        crate::vault::taint::register_value(&node.to_value());
        return Ok(node);
    }
    let file = SourceFile::new(path, text);
    Loader::new(file).run(text).map_err(YamlError)
}

/// Reads and parses a YAML file.
pub fn load_file(path: &Path) -> Result<Node, YamlError> {
    match std::fs::read_to_string(path) {
        Ok(text) => load_str(path, &text),
        Err(err) => {
            let span = Span::synthetic(&path.to_string_lossy());
            let message = format!("cannot read YAML file {}: {err}", path.display());
            Err(YamlError(Diagnostic::new(&span, message)))
        }
    }
}

/// Parses YAML text to plain data, for the `from_yaml` filter.
pub fn load_str_value(text: &str) -> Result<serde_json::Value, String> {
    load_str(Path::new("<string>"), text)
        .map(|node| node.to_value())
        .map_err(|err| err.0.to_string())
}

/// A map entry before merge keys and duplicates are resolved.
struct Entry {
    key: Node,
    value: Node,
    /// The key was a plain `<<`.
    merge: bool,
}

enum Collection {
    Seq(Vec<Node>),
    Map {
        entries: Vec<Entry>,
        /// A key waiting for its value, and whether it is a merge key.
        key: Option<(Node, bool)>,
    },
}

struct Frame {
    collection: Collection,
    span: Span,
    anchor: usize,
    tag: Option<Tag>,
    /// Nodes in this collection so far, itself included, as alias expansion counts them.
    size: usize,
}

/// How a tag applies, once `%TAG` handles are resolved by the parser.
enum TagKind<'a> {
    /// `!!str`, `!!int`, ...: the suffix after `tag:yaml.org,2002:`.
    Core(&'a str),
    /// The non-specific tag `!`: a scalar is a string, a collection is itself.
    NonSpecific,
    /// Anything else, named without its leading `!` (`vault`, `unsafe`).
    App(String),
}

fn classify(tag: &Tag) -> TagKind<'_> {
    if tag.handle == CORE_TAG_PREFIX {
        return TagKind::Core(&tag.suffix);
    }
    if tag.handle.is_empty() && tag.suffix == "!" {
        return TagKind::NonSpecific;
    }
    let full = format!("{}{}", tag.handle, tag.suffix);
    match full.strip_prefix('!') {
        Some(name) => TagKind::App(name.to_string()),
        None => TagKind::App(full),
    }
}

struct Loader {
    file: Arc<SourceFile>,
    /// Byte offset where each line starts, for looking at the text under a node.
    line_starts: Vec<usize>,
    stack: Vec<Frame>,
    /// Completed anchored nodes with their sizes.
    anchors: HashMap<usize, (Node, usize)>,
    alias_nodes: usize,
    documents: usize,
    root: Option<Node>,
}

impl Loader {
    fn new(file: Arc<SourceFile>) -> Self {
        let line_starts = std::iter::once(0)
            .chain(file.text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Loader {
            file,
            line_starts,
            stack: Vec::new(),
            anchors: HashMap::new(),
            alias_nodes: 0,
            documents: 0,
            root: None,
        }
    }

    fn span(&self, mark: &Marker) -> Span {
        Span::new(
            self.file.clone(),
            to_u32(mark.line()),
            to_u32(mark.col() + 1),
        )
    }

    fn run(mut self, text: &str) -> Result<Node, Diagnostic> {
        let mut parser = Parser::new_from_str(text);
        while let Some(item) = parser.next_event() {
            let (event, yspan) = item.map_err(|err| self.syntax_error(&err))?;
            let span = self.span(&yspan.start);
            match event {
                Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => {}
                Event::DocumentStart(_) => {
                    self.documents += 1;
                    if self.documents > 1 {
                        return Err(Diagnostic::new(
                            &span,
                            "expected a single YAML document, but found another one here",
                        )
                        .with_hint("remove the `---` separator or split the file"));
                    }
                }
                Event::Alias(id) => {
                    let (node, size) = self.alias(id, span)?;
                    self.complete(node, false, 0, size)?;
                }
                Event::Scalar(value, style, anchor, tag) => {
                    let (node, merge) = scalar(value, style, tag.as_deref(), span)?;
                    self.complete(node, merge, anchor, 1)?;
                }
                Event::SequenceStart(anchor, tag) => {
                    self.open(Collection::Seq(Vec::new()), span, anchor, tag)?;
                }
                Event::MappingStart(anchor, tag) => {
                    if self.starts_with_braces(&yspan.start) {
                        return Err(Diagnostic::new(
                            &span,
                            "a value starting with `{{` is read as a YAML mapping, not a template",
                        )
                        .with_hint(TEMPLATE_HINT));
                    }
                    let map = Collection::Map {
                        entries: Vec::new(),
                        key: None,
                    };
                    self.open(map, span, anchor, tag)?;
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let frame = self.stack.pop().expect("parser balances collections");
                    let node = close(frame.collection, frame.span, frame.tag.as_ref())?;
                    self.complete(node, false, frame.anchor, frame.size)?;
                }
            }
        }
        Ok(self.root.unwrap_or_else(|| Node {
            kind: NodeKind::Null,
            span: Span::new(self.file.clone(), 1, 1),
        }))
    }

    fn open(
        &mut self,
        collection: Collection,
        span: Span,
        anchor: usize,
        tag: Option<Cow<'_, Tag>>,
    ) -> Result<(), Diagnostic> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Diagnostic::new(
                &span,
                format!("YAML nesting is deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.stack.push(Frame {
            collection,
            span,
            anchor,
            tag: tag.map(Cow::into_owned),
            size: 1,
        });
        Ok(())
    }

    /// Attaches a finished node to its parent (or makes it the document root).
    fn complete(
        &mut self,
        node: Node,
        merge: bool,
        anchor: usize,
        size: usize,
    ) -> Result<(), Diagnostic> {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        parent.size = parent.size.saturating_add(size);
        match &mut parent.collection {
            Collection::Seq(items) => items.push(node),
            Collection::Map { entries, key } => match key.take() {
                None => {
                    if matches!(node.kind, NodeKind::Seq(_) | NodeKind::Map(_)) {
                        return Err(node.error(format!(
                            "a {} cannot be used as a mapping key",
                            node.type_name()
                        )));
                    }
                    *key = Some((node, merge));
                }
                Some((key, merge)) => entries.push(Entry {
                    key,
                    value: node,
                    merge,
                }),
            },
        }
        Ok(())
    }

    fn alias(&mut self, id: usize, span: Span) -> Result<(Node, usize), Diagnostic> {
        let Some(&(ref node, size)) = self.anchors.get(&id) else {
            // The parser rejects undefined anchors, so this is an alias inside its own anchor.
            return Err(Diagnostic::new(
                &span,
                "an alias cannot refer to the node that contains it",
            ));
        };
        self.alias_nodes = self.alias_nodes.saturating_add(size);
        if self.alias_nodes > MAX_ALIAS_NODES {
            return Err(Diagnostic::new(
                &span,
                format!(
                    "aliases expand to more than {MAX_ALIAS_NODES} nodes; refusing a possible \
                     \"billion laughs\" document"
                ),
            ));
        }
        let mut node = node.clone();
        node.span = span;
        Ok((node, size))
    }

    fn starts_with_braces(&self, mark: &Marker) -> bool {
        let Some(&start) = self.line_starts.get(mark.line().wrapping_sub(1)) else {
            return false;
        };
        let rest = &self.file.text[start..];
        rest.char_indices()
            .nth(mark.col())
            .is_some_and(|(at, _)| rest[at..].starts_with("{{"))
    }

    fn syntax_error(&self, err: &ScanError) -> Diagnostic {
        let mark = err.marker();
        let span = self.span(mark);
        let diag = Diagnostic::new(&span, format!("YAML syntax error: {}", err.info()));
        let line = self.file.line_text(span.line).unwrap_or("");
        let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
        if indent.contains('\t') || err.info().contains("tab") {
            diag.with_hint("indent YAML with spaces; tab characters are not allowed")
        } else if value_starts_with_braces(line) {
            diag.with_hint(TEMPLATE_HINT)
        } else if err.info().contains("mapping values are not allowed") {
            diag.with_hint("check the indentation; if a value contains `: `, quote the whole value")
        } else {
            diag
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Whether a line holds `key: {{ ... }}` or `- {{ ... }}` with the template unquoted.
fn value_starts_with_braces(line: &str) -> bool {
    let Some(at) = line.find("{{") else {
        return false;
    };
    let before = line[..at].trim_end();
    before.is_empty() || before.ends_with(':') || before.ends_with('-')
}

/// Builds a scalar node; the flag says whether it is a plain `<<` (a merge key).
fn scalar(
    value: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&Tag>,
    span: Span,
) -> Result<(Node, bool), Diagnostic> {
    let plain = style == ScalarStyle::Plain;
    let node = |kind| Node {
        kind,
        span: span.clone(),
    };
    let Some(tag) = tag else {
        if !plain {
            return Ok((node(NodeKind::Str(value.into_owned())), false));
        }
        if value == "<<" {
            return Ok((node(NodeKind::Str(value.into_owned())), true));
        }
        return Ok((node(resolve_plain(&value)), false));
    };
    let kind = match classify(tag) {
        TagKind::NonSpecific => NodeKind::Str(value.into_owned()),
        // The inner node repeats the outer position: saphyr has none for it.
        TagKind::App(name) => {
            NodeKind::Tagged(name, Box::new(node(NodeKind::Str(value.into_owned()))))
        }
        TagKind::Core(suffix) => {
            let invalid = || {
                Diagnostic::new(
                    &span,
                    format!("`{value}` is not a valid value for the tag !!{suffix}"),
                )
            };
            match suffix {
                "str" | "binary" | "timestamp" | "value" => NodeKind::Str(value.to_string()),
                "merge" => return Ok((node(NodeKind::Str(value.into_owned())), true)),
                "null" => NodeKind::Null,
                "bool" => NodeKind::Bool(construct_bool(&value).ok_or_else(invalid)?),
                "int" => NodeKind::Int(construct_int(&value).ok_or_else(invalid)?),
                "float" => NodeKind::Float(construct_float(&value).ok_or_else(invalid)?),
                "map" | "set" | "omap" | "pairs" | "seq" => {
                    return Err(Diagnostic::new(
                        &span,
                        format!("the tag !!{suffix} needs a collection, not a scalar"),
                    ));
                }
                _ => {
                    return Err(Diagnostic::new(
                        &span,
                        format!("unknown YAML tag !!{suffix}"),
                    ));
                }
            }
        }
    };
    Ok((node(kind), false))
}

/// Finishes a collection: applies merge keys, collapses duplicate keys and its tag.
fn close(collection: Collection, span: Span, tag: Option<&Tag>) -> Result<Node, Diagnostic> {
    let is_map = matches!(collection, Collection::Map { .. });
    let kind = match collection {
        Collection::Seq(items) => NodeKind::Seq(items),
        Collection::Map { entries, .. } => NodeKind::Map(flatten_map(entries)?),
    };
    let node = Node { kind, span };
    let Some(tag) = tag else {
        return Ok(node);
    };
    match classify(tag) {
        TagKind::NonSpecific => Ok(node),
        TagKind::App(name) => Ok(Node {
            span: node.span.clone(),
            kind: NodeKind::Tagged(name, Box::new(node)),
        }),
        TagKind::Core(suffix) => {
            let fits = match suffix {
                "map" | "set" => is_map,
                "seq" | "omap" | "pairs" => !is_map,
                _ => false,
            };
            if fits {
                Ok(node)
            } else {
                Err(node.error(format!(
                    "the tag !!{suffix} cannot be applied to a {}",
                    node.type_name()
                )))
            }
        }
    }
}

/// Merge keys as PyYAML applies them: merged entries come first (the maps of a list in
/// reverse order), then the map's own entries; with dict semantics a later entry replaces
/// the value of an earlier equal key but keeps that key's place. So the map's own keys win,
/// and earlier maps in a merge list win over later ones.
fn flatten_map(entries: Vec<Entry>) -> Result<Vec<(Node, Node)>, Diagnostic> {
    let mut merged = Vec::new();
    let mut own = Vec::with_capacity(entries.len());
    for entry in entries {
        if !entry.merge {
            own.push((entry.key, entry.value));
            continue;
        }
        let value = entry.value;
        match value.kind {
            NodeKind::Map(map) => merged.extend(map),
            NodeKind::Seq(items) => {
                let mut maps = Vec::with_capacity(items.len());
                for item in items {
                    match item.kind {
                        NodeKind::Map(map) => maps.push(map),
                        _ => {
                            return Err(item.error(format!(
                                "a merge key (<<) list may only hold mappings, found a {}",
                                item.type_name()
                            )));
                        }
                    }
                }
                merged.extend(maps.into_iter().rev().flatten());
            }
            _ => {
                return Err(value.error(format!(
                    "a merge key (<<) needs a mapping or a list of mappings, found a {}",
                    value.type_name()
                )));
            }
        }
    }
    let mut out: Vec<(Node, Node)> = Vec::with_capacity(merged.len() + own.len());
    let mut seen: HashMap<KeyId, usize> = HashMap::new();
    for (unique, (key, value)) in merged.into_iter().chain(own).enumerate() {
        match seen.entry(key_id(&key, unique)) {
            Slot::Occupied(slot) => {
                // Point at the key that supplied the value, which is where an edit belongs.
                let at = *slot.get();
                out[at].0.span = key.span;
                out[at].1 = value;
            }
            Slot::Vacant(slot) => {
                slot.insert(out.len());
                out.push((key, value));
            }
        }
    }
    Ok(out)
}

/// Key identity with Python's equality: `1`, `1.0` and `true` are the same key.
#[derive(PartialEq, Eq, Hash)]
enum KeyId {
    Null,
    Int(i64),
    Float(u64),
    Str(String),
    Unique(usize),
}

fn key_id(key: &Node, unique: usize) -> KeyId {
    match &key.kind {
        NodeKind::Null => KeyId::Null,
        NodeKind::Bool(b) => KeyId::Int(i64::from(*b)),
        NodeKind::Int(i) => KeyId::Int(*i),
        NodeKind::Float(f) if f.is_nan() => KeyId::Unique(unique),
        NodeKind::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => KeyId::Int(*f as i64),
        NodeKind::Float(f) => KeyId::Float(f.to_bits()),
        NodeKind::Str(s) => KeyId::Str(s.clone()),
        NodeKind::Tagged(_, inner) => key_id(inner, unique),
        NodeKind::Seq(_) | NodeKind::Map(_) => KeyId::Unique(unique),
    }
}

// The implicit resolvers of PyYAML's YAML 1.1 resolver.
static BOOL_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$")
        .expect("valid regex")
});
static FLOAT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?",
        r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?",
        r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*",
        r"|[-+]?\.(?:inf|Inf|INF)",
        r"|\.(?:nan|NaN|NAN))$",
    ))
    .expect("valid regex")
});
static INT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:[-+]?0b[0-1_]+",
        r"|[-+]?0[0-7_]+",
        r"|[-+]?(?:0|[1-9][0-9_]*)",
        r"|[-+]?0x[0-9a-fA-F_]+",
        r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
    ))
    .expect("valid regex")
});

static TIMESTAMP_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}",
        r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?",
        r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$",
    ))
    .expect("valid regex")
});

/// Whether PyYAML would read `text`, written plain, back as a string. The dumper quotes
/// strings for which this is false (`yes`, `0644`, `~`, `2024-01-01`, `<<`, `=`, ...).
pub(super) fn plain_resolves_to_str(text: &str) -> bool {
    !(matches!(text, "" | "~" | "null" | "Null" | "NULL" | "<<" | "=")
        || BOOL_RE.is_match(text)
        || FLOAT_RE.is_match(text)
        || INT_RE.is_match(text)
        || TIMESTAMP_RE.is_match(text))
}

/// Resolves an untagged plain scalar by YAML 1.1 rules. Timestamps stay strings.
fn resolve_plain(text: &str) -> NodeKind {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        _ => {}
    }
    // As in PyYAML, the first character picks which patterns can apply; most plain
    // scalars (words, paths) need no pattern at all.
    let first = text.as_bytes()[0];
    if b"yYnNtTfFoO".contains(&first) && BOOL_RE.is_match(text) {
        return NodeKind::Bool(construct_bool(text).unwrap_or_default());
    }
    if !b"-+.0123456789".contains(&first) {
        return NodeKind::Str(text.to_string());
    }
    if FLOAT_RE.is_match(text)
        && let Some(f) = construct_float(text)
    {
        return NodeKind::Float(f);
    }
    if INT_RE.is_match(text)
        && let Some(i) = construct_int(text)
    {
        return NodeKind::Int(i);
    }
    // Python ints are unbounded; one beyond i64 is kept as written.
    NodeKind::Str(text.to_string())
}

fn construct_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" => Some(true),
        "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

/// PyYAML's int construction: `_` ignored, `0b`/`0x`, a leading `0` means octal,
/// `a:b:c` is base 60.
fn construct_int(text: &str) -> Option<i64> {
    let cleaned = text.replace('_', "");
    let (negative, digits) = split_sign(&cleaned);
    let magnitude: i128 = if digits == "0" {
        0
    } else if let Some(bin) = digits.strip_prefix("0b") {
        i128::from_str_radix(bin, 2).ok()?
    } else if let Some(hex) = digits.strip_prefix("0x") {
        i128::from_str_radix(hex, 16).ok()?
    } else if digits.starts_with('0') {
        i128::from_str_radix(digits, 8).ok()?
    } else if digits.contains(':') {
        digits.split(':').try_fold(0i128, |acc, part| {
            acc.checked_mul(60)?.checked_add(part.parse::<i128>().ok()?)
        })?
    } else {
        digits.parse::<i128>().ok()?
    };
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// PyYAML's float construction: `_` ignored, `.inf`/`.nan`, `a:b.c` is base 60.
fn construct_float(text: &str) -> Option<f64> {
    let cleaned = text.replace('_', "").to_ascii_lowercase();
    let (negative, digits) = split_sign(&cleaned);
    let magnitude = match digits {
        ".inf" => f64::INFINITY,
        ".nan" => f64::NAN,
        _ if digits.contains(':') => digits.split(':').try_fold(0.0, |acc, part| {
            Some(acc * 60.0 + part.parse::<f64>().ok()?)
        })?,
        _ => digits.parse::<f64>().ok()?,
    };
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(text: &str) -> Node {
        load_str(Path::new("test.yml"), text).unwrap_or_else(|e| panic!("{}", e.0.render()))
    }

    fn value(text: &str) -> serde_json::Value {
        load(text).to_value()
    }

    fn error(text: &str) -> Diagnostic {
        match load_str(Path::new("test.yml"), text) {
            Ok(node) => panic!("expected an error, got {:?}", node.to_value()),
            Err(err) => err.0,
        }
    }

    fn scalar_kind(text: &str) -> NodeKind {
        load(&format!("v: {text}\n")).get("v").unwrap().kind.clone()
    }

    #[test]
    fn booleans_follow_yaml_1_1() {
        for word in [
            "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE",
        ] {
            assert!(matches!(scalar_kind(word), NodeKind::Bool(true)), "{word}");
        }
        for word in [
            "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE",
        ] {
            assert!(matches!(scalar_kind(word), NodeKind::Bool(false)), "{word}");
        }
        for word in ["y", "n", "Y", "N", "yES", "oN", "'yes'", "\"no\""] {
            assert!(matches!(scalar_kind(word), NodeKind::Str(_)), "{word}");
        }
    }

    #[test]
    fn nulls() {
        for word in ["", "~", "null", "Null", "NULL"] {
            assert!(matches!(scalar_kind(word), NodeKind::Null), "{word:?}");
        }
        for word in ["nULL", "'~'", "\"\"", "None"] {
            assert!(matches!(scalar_kind(word), NodeKind::Str(_)), "{word}");
        }
    }

    #[test]
    fn integers_include_octal_hex_binary_and_base_60() {
        let cases = [
            ("0644", 420),
            ("0755", 493),
            ("-010", -8),
            ("0x1F", 31),
            ("0b101", 5),
            ("1:30", 90),
            ("190:20:30", 685_230),
            ("1_000", 1000),
            ("+12", 12),
            ("-0", 0),
            ("0", 0),
            ("9223372036854775807", i64::MAX),
        ];
        for (text, expected) in cases {
            match scalar_kind(text) {
                NodeKind::Int(i) => assert_eq!(i, expected, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        for text in [
            "0o17",
            "08",
            "09:30",
            "'0644'",
            "1e3",
            "0x",
            "99999999999999999999",
        ] {
            assert!(matches!(scalar_kind(text), NodeKind::Str(_)), "{text}");
        }
    }

    #[test]
    fn floats_need_a_dot_and_a_signed_exponent() {
        let cases = [
            ("1.5", 1.5),
            ("1.", 1.0),
            (".5", 0.5),
            ("-1.5", -1.5),
            ("1.0e+3", 1000.0),
            ("1_000.5", 1000.5),
            ("1:30.5", 90.5),
            (".inf", f64::INFINITY),
            ("-.Inf", f64::NEG_INFINITY),
        ];
        for (text, expected) in cases {
            match scalar_kind(text) {
                NodeKind::Float(f) => assert_eq!(f, expected, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(scalar_kind(".NaN"), NodeKind::Float(f) if f.is_nan()));
        for text in ["1.0e3", "1e3", "-.5", "1.2.3", ".", "inf", "nan"] {
            assert!(matches!(scalar_kind(text), NodeKind::Str(_)), "{text}");
        }
    }

    #[test]
    fn quoted_and_block_scalars_are_strings() {
        let doc = "a: '0644'\nb: \"yes\"\nc: |\n  on\nd: >-\n  1.5\n";
        assert_eq!(
            value(doc),
            json!({"a": "0644", "b": "yes", "c": "on\n", "d": "1.5"})
        );
    }

    #[test]
    fn core_tags_are_honoured() {
        let doc = "a: !!str 0644\nb: !!int '0644'\nc: !!float 1\nd: !!bool 'yes'\n\
                   e: !!null x\nf: !!map {k: v}\ng: !!seq [1]\nh: !!str yes\n";
        assert_eq!(
            value(doc),
            json!({"a": "0644", "b": 420, "c": 1.0, "d": true, "e": null,
                   "f": {"k": "v"}, "g": [1], "h": "yes"})
        );
        assert!(error("a: !!int abc\n").message.contains("!!int"));
        assert!(error("a: !!seq {k: v}\n").message.contains("!!seq"));
    }

    #[test]
    fn application_tags_wrap_their_node() {
        let doc = "secret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n\
                   raw: !unsafe '{{ x }}'\nodd: !custom [1]\n";
        let node = load(doc);
        let NodeKind::Tagged(tag, inner) = &node.get("secret").unwrap().kind else {
            panic!("not tagged");
        };
        assert_eq!(tag, "vault");
        assert_eq!(inner.as_str(), Some("$ANSIBLE_VAULT;1.1;AES256\n6162\n"));
        assert_eq!((inner.span.line, inner.span.col), (1, 9));
        let NodeKind::Tagged(tag, inner) = &node.get("raw").unwrap().kind else {
            panic!("not tagged");
        };
        assert_eq!(tag, "unsafe");
        assert_eq!(inner.as_str(), Some("{{ x }}"));
        // A tagged plain scalar keeps its text unresolved.
        let tagged = load("m: !unsafe 0644\n");
        assert_eq!(tagged.to_value(), json!({"m": "0644"}));
        assert!(matches!(
            &node.get("odd").unwrap().kind,
            NodeKind::Tagged(t, inner) if t == "custom" && inner.as_seq().is_some()
        ));
    }

    #[test]
    fn merge_keys() {
        let doc = "\
base: &base {a: 1, b: 2}
other: &other {b: 20, c: 30}
one:
  <<: *base
  b: 5
list:
  <<: [*base, *other]
  d: 4
quoted:
  '<<': *base
";
        let v = value(doc);
        assert_eq!(v["one"], json!({"a": 1, "b": 5}));
        // Earlier maps win; PyYAML puts the later maps' keys first.
        assert_eq!(v["list"], json!({"b": 2, "c": 30, "a": 1, "d": 4}));
        let order: Vec<&String> = v["list"].as_object().unwrap().keys().collect();
        assert_eq!(order, ["b", "c", "a", "d"]);
        assert_eq!(v["quoted"], json!({"<<": {"a": 1, "b": 2}}));
        assert!(error("a:\n  <<: 1\n").message.contains("merge key"));
        let err = error("a:\n  <<: [{x: 1}, 2]\n");
        assert_eq!((err.span.line, err.span.col), (2, 16));
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_in_the_first_place() {
        let node = load("a: 1\nb: 2\na: 3\n");
        assert_eq!(node.to_value(), json!({"a": 3, "b": 2}));
        let keys: Vec<String> = node
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.key_string())
            .collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(node.as_map().unwrap()[0].0.span.line, 3);
        // Python equality: 1 and true are the same key.
        assert_eq!(value("1: a\ntrue: b\n"), json!({"1": "b"}));
    }

    #[test]
    fn spans_are_one_based() {
        let node = load("top:\n  nested:\n    key: value\n  list:\n    - x\n");
        let nested = node.get("top").unwrap().get("nested").unwrap();
        let (key, val) = &nested.as_map().unwrap()[0];
        assert_eq!(key.as_str(), Some("key"));
        assert_eq!((key.span.line, key.span.col), (3, 5));
        assert_eq!((val.span.line, val.span.col), (3, 10));
        let item = &node
            .get("top")
            .unwrap()
            .get("list")
            .unwrap()
            .as_seq()
            .unwrap()[0];
        assert_eq!((item.span.line, item.span.col), (5, 7));
        assert_eq!(item.span.path(), Path::new("test.yml"));
        assert!(Arc::ptr_eq(&item.span.file, &node.span.file));
    }

    #[test]
    fn anchors_and_aliases() {
        let node = load("a: &x [1, 2]\nb: *x\n");
        assert_eq!(node.to_value(), json!({"a": [1, 2], "b": [1, 2]}));
        let b = node.get("b").unwrap();
        assert_eq!((b.span.line, b.span.col), (2, 4));
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = error(&doc);
        assert!(err.message.contains("billion laughs"), "{}", err.message);
        assert!(err.span.line > 1);
    }

    #[test]
    fn empty_and_multiple_documents() {
        let node = load("");
        assert!(node.is_null());
        assert_eq!((node.span.line, node.span.col), (1, 1));
        assert!(load("# only a comment\n").is_null());
        assert!(load("---\n").is_null());
        assert_eq!(value("---\na: 1\n...\n"), json!({"a": 1}));
        let err = error("a: 1\n---\nb: 2\n");
        assert_eq!((err.span.line, err.span.col), (2, 1));
        assert!(err.message.contains("single YAML document"));
        assert!(
            error("a: 1\n---\n")
                .message
                .contains("single YAML document")
        );
    }

    #[test]
    fn unquoted_template_gets_a_hint() {
        for doc in [
            "- name: x\n  debug:\n    msg: {{ greeting }}\n",
            "list:\n  - {{ item }}\n",
            "when: {{ x }} and y\n",
        ] {
            let err = error(doc);
            assert_eq!(err.hint.as_deref(), Some(TEMPLATE_HINT), "{doc}");
        }
        let err = error("msg: {{ greeting }}\n");
        assert_eq!((err.span.line, err.span.col), (1, 6));
        assert_eq!(
            value("msg: \"{{ greeting }}\"\n"),
            json!({"msg": "{{ greeting }}"})
        );
    }

    #[test]
    fn syntax_errors_point_at_the_problem() {
        let err = error("a:\n  b: 1\n   c: 2\n");
        assert_eq!((err.span.line, err.span.col), (3, 5));
        assert!(err.message.starts_with("YAML syntax error: "));
        assert!(err.hint.is_some());
        let err = error("a:\n\tb: 1\n");
        assert_eq!(err.span.line, 2);
        assert!(err.hint.unwrap().contains("spaces"));
        let err = error("a: \"open\nb: 1\n");
        assert!(err.message.contains("quoted scalar"), "{}", err.message);
        let rendered = err.render();
        assert!(rendered.contains("test.yml:"), "{rendered}");
    }

    #[test]
    fn collection_keys_are_refused() {
        let err = error("? [a, b]\n: c\n");
        assert!(err.message.contains("mapping key"));
    }

    #[test]
    fn load_file_reports_io_errors_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.yml");
        let err = load_file(&missing).unwrap_err().0;
        assert!(err.message.contains("missing.yml"));
        assert_eq!(err.span.line, 0);
        let present = dir.path().join("vars.yml");
        std::fs::write(&present, "mode: 0644\n").unwrap();
        let node = load_file(&present).unwrap();
        assert_eq!(node.to_value(), json!({"mode": 420}));
        assert_eq!(node.span.path(), present.as_path());
    }

    #[test]
    fn load_str_value_for_filters() {
        assert_eq!(
            load_str_value("a: [1, yes]").unwrap(),
            json!({"a": [1, true]})
        );
        let err = load_str_value("a: [1").unwrap_err();
        assert!(err.starts_with("<string>:"), "{err}");
    }
}
