//! YAML with positions, resolved the way Ansible (PyYAML's SafeLoader, YAML 1.1) reads it.
//!
//! `load` parses with saphyr and resolves plain scalars by YAML 1.1 rules
//! (`yes`/`on` booleans, `0644` octal, `<<` merge keys); `dump` writes values
//! the way PyYAML's `dump` lays them out, for `to_yaml`/`to_nice_yaml`.

mod dump;
mod load;
mod node;

pub use dump::{to_nice_yaml, to_yaml};
pub use load::{load_file, load_str, load_str_value};
pub use node::{Node, NodeKind, YamlError};
