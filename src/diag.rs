//! Source positions and user-facing diagnostics.
//!
//! Every stage that reads user files reports problems as a [`Diagnostic`]
//! pointing at a [`Span`]; the CLI renders it with the offending line.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file as it was read, kept so errors can quote the offending line.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Arc<Self> {
        Arc::new(SourceFile {
            path: path.into(),
            text: text.into(),
        })
    }

    /// The text of a 1-based line, without its newline.
    pub fn line_text(&self, line: u32) -> Option<&str> {
        self.text.lines().nth(line.checked_sub(1)? as usize)
    }
}

/// A position in a source file: 1-based line and column.
#[derive(Clone)]
pub struct Span {
    pub file: Arc<SourceFile>,
    pub line: u32,
    pub col: u32,
}

impl Span {
    pub fn new(file: Arc<SourceFile>, line: u32, col: u32) -> Self {
        Span { file, line, col }
    }

    /// A span for values that did not come from a file (extra vars, defaults).
    pub fn synthetic(label: &str) -> Self {
        Span {
            file: SourceFile::new(label, ""),
            line: 0,
            col: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// The directory of the file this span points into.
    pub fn dir(&self) -> PathBuf {
        match self.file.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.path.display())
        } else {
            write!(f, "{}:{}:{}", self.file.path.display(), self.line, self.col)
        }
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl PartialEq for Span {
    fn eq(&self, other: &Self) -> bool {
        self.file.path == other.file.path && self.line == other.line && self.col == other.col
    }
}

/// An error about user input, tied to where it was written.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{span}: {message}")]
pub struct Diagnostic {
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(span: &Span, message: impl Into<String>) -> Self {
        Diagnostic {
            span: span.clone(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Multi-line rendering: location, message, the source line with a caret, hint.
    pub fn render(&self) -> String {
        let mut out = format!("error: {}\n  --> {}\n", self.message, self.span);
        if let Some(line) = self.span.file.line_text(self.span.line) {
            let num = self.span.line.to_string();
            let pad = " ".repeat(num.len());
            let caret_pad = " ".repeat(self.span.col.saturating_sub(1) as usize);
            out.push_str(&format!("{pad} |\n{num} | {line}\n{pad} | {caret_pad}^\n"));
        }
        if let Some(hint) = &self.hint {
            out.push_str(&format!("  = hint: {hint}\n"));
        }
        out
    }
}
