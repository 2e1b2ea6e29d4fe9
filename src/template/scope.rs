//! Variables as the template engine sees them: layers searched from the
//! highest precedence down, with values templated when they are read.

use super::{TemplateError, has_template, render_value};
use minijinja::Value as JValue;
use minijinja::value::{Enumerator, Object};
use serde_json::{Map, Value};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Deepest chain of variables referring to variables before we call it a loop.
const MAX_DEPTH: u32 = 40;

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// An error inside a lazily templated variable; minijinja's object lookups
    /// cannot return errors, so it is parked here for the outer render to report.
    static NESTED_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
    /// A secret value was read since the current render began.
    static TAINTED: Cell<bool> = const { Cell::new(false) };
}

pub(super) fn clear_nested_error() {
    if DEPTH.get() == 0 {
        NESTED_ERROR.with(|e| e.borrow_mut().take());
    }
}

pub(super) fn take_nested_error() -> Option<String> {
    NESTED_ERROR.with(|e| e.borrow_mut().take())
}

/// Notes that the current render read a secret (a lookup that made one).
pub(super) fn mark_tainted() {
    TAINTED.set(true);
}

/// Runs `render`; when it read a secret, `on_taint` gets the result so that
/// what was built from the secret becomes secret too (it may be transformed
/// beyond recognition, e.g. by `b64encode`).
pub(super) fn tracking_taint<T>(
    render: impl FnOnce() -> Result<T, TemplateError>,
    on_taint: impl FnOnce(&T),
) -> Result<T, TemplateError> {
    if !crate::vault::taint::any() {
        return render();
    }
    let outer = TAINTED.replace(false);
    let out = render();
    let tainted = TAINTED.get();
    TAINTED.set(outer || tainted);
    if tainted && let Ok(v) = &out {
        on_taint(v);
    }
    out
}

/// Variables for one host and task; `layers` are ordered lowest precedence first.
#[derive(Debug, Default)]
pub struct Scope {
    layers: Vec<Arc<Map<String, Value>>>,
    /// Values that are already engine objects (hostvars), checked first.
    objects: Vec<(String, JValue)>,
}

impl Scope {
    pub fn from_layers(layers: Vec<Arc<Map<String, Value>>>) -> Arc<Scope> {
        Arc::new(Scope {
            layers,
            objects: Vec::new(),
        })
    }

    pub fn with_objects(
        layers: Vec<Arc<Map<String, Value>>>,
        objects: Vec<(String, JValue)>,
    ) -> Arc<Scope> {
        Arc::new(Scope { layers, objects })
    }

    /// This scope with one more layer on top (e.g. a registered result).
    pub fn with_layer(&self, layer: Map<String, Value>) -> Arc<Scope> {
        let mut layers = self.layers.clone();
        layers.push(Arc::new(layer));
        Arc::new(Scope {
            layers,
            objects: self.objects.clone(),
        })
    }

    /// The raw (untemplated) value of a variable.
    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.layers.iter().rev().find_map(|l| l.get(name))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.raw(name).is_some() || self.objects.iter().any(|(k, _)| k == name)
    }

    /// A variable with its templates rendered.
    pub fn get(self: &Arc<Self>, name: &str) -> Result<Option<Value>, TemplateError> {
        let raw = match self.raw(name) {
            None => return Ok(None),
            Some(v) => crate::vault::reveal(v).map_err(|e| TemplateError(e.to_string()))?,
        };
        let v = self.get_revealed(name, &raw)?;
        if crate::vault::taint::value_contains(&v) {
            TAINTED.set(true);
        }
        Ok(Some(v))
    }

    fn get_revealed(self: &Arc<Self>, name: &str, raw: &Value) -> Result<Value, TemplateError> {
        match raw {
            v if has_template(v) => {
                let depth = DEPTH.get();
                if depth >= MAX_DEPTH {
                    return Err(TemplateError(format!(
                        "recursive loop detected while templating '{name}'"
                    )));
                }
                DEPTH.set(depth + 1);
                let out = render_value(v, self);
                DEPTH.set(depth);
                out
            }
            v => Ok(v.clone()),
        }
    }

    /// A variable as an engine value, for attribute walking in error messages.
    pub(super) fn lookup_value(self: &Arc<Self>, name: &str) -> Option<JValue> {
        self.get_value(&JValue::from(name))
    }

    pub fn names(&self) -> BTreeSet<String> {
        let mut names: BTreeSet<String> =
            self.layers.iter().flat_map(|l| l.keys().cloned()).collect();
        names.extend(self.objects.iter().map(|(k, _)| k.clone()));
        names
    }
}

impl Object for Scope {
    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let name = key.as_str()?;
        if let Some((_, v)) = self.objects.iter().find(|(k, _)| k == name) {
            return Some(v.clone());
        }
        if name == "vars" {
            return Some(JValue::from_dyn_object(self.clone()));
        }
        match self.get(name) {
            Ok(Some(v)) => Some(JValue::from(minijinja::value::Serde(v))),
            Ok(None) => None,
            Err(e) => {
                NESTED_ERROR.with(|slot| {
                    slot.borrow_mut().get_or_insert(e.0);
                });
                None
            }
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.names().into_iter().map(JValue::from).collect())
    }
}
