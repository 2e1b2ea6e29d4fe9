//! The positioned YAML tree.

use crate::diag::{Diagnostic, Span};
use serde_json::Value;

/// One YAML node with the position where it starts.
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys keep their own spans so errors can point at a misspelt key.
    /// Insertion order is kept; after merge keys are applied, keys are unique.
    Map(Vec<(Node, Node)>),
    /// A node carrying an application tag, e.g. `!vault` or `!unsafe` (tag without the `!`).
    Tagged(String, Box<Node>),
}

/// A YAML syntax or resolution error.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct YamlError(#[from] pub Diagnostic);

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Null)
    }

    /// The value of a string key in a map node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// A short word for the node's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "boolean",
            NodeKind::Int(_) => "integer",
            NodeKind::Float(_) => "float",
            NodeKind::Str(_) => "string",
            NodeKind::Seq(_) => "list",
            NodeKind::Map(_) => "mapping",
            NodeKind::Tagged(..) => "tagged value",
        }
    }

    /// Map keys as strings, the way Ansible stringifies scalar keys.
    pub fn key_string(&self) -> String {
        match &self.kind {
            NodeKind::Str(s) => s.clone(),
            NodeKind::Null => "None".into(),
            NodeKind::Bool(b) => if *b { "True" } else { "False" }.into(),
            NodeKind::Int(i) => i.to_string(),
            NodeKind::Float(f) => f.to_string(),
            _ => String::new(),
        }
    }

    /// Plain data, dropping positions. `!unsafe` becomes its string; other tags
    /// (e.g. `!vault`) become `{"__tag__": tag, "value": inner}` so callers can spot them;
    /// `!vault` also keeps its position as `"__pos__": "file:line:col"`.
    pub fn to_value(&self) -> Value {
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => Value::from(*i),
            NodeKind::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(f.to_string())),
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.key_string(), v.to_value()))
                    .collect(),
            ),
            NodeKind::Tagged(tag, inner) if tag == "unsafe" => inner.to_value(),
            NodeKind::Tagged(tag, inner) => {
                let mut m = serde_json::Map::new();
                m.insert("__tag__".into(), Value::String(tag.clone()));
                m.insert("value".into(), inner.to_value());
                if tag == "vault" {
                    // Where the value was written, for decryption errors.
                    m.insert("__pos__".into(), Value::String(self.span.to_string()));
                }
                Value::Object(m)
            }
        }
    }

    pub fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(&self.span, message)
    }
}
