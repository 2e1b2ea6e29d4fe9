//! Every built-in module by name, and the name forms playbooks may use.

use super::Module;
use super::spec::ModuleSpec;

static MODULES: &[&dyn Module] = &[
    &super::command::Command,
    &super::command::Shell,
    &super::content::Copy,
    &super::content::Template,
    &super::file::File,
    &super::lineedit::LineInFileModule,
    &super::lineedit::BlockInFileModule,
    &super::stat::Stat,
    &super::debug::Debug,
    &super::assert::Assert,
    &super::fail::Fail,
    &super::set_fact::SetFact,
    &super::pause::Pause,
    &super::tempfile::TempFile,
    &super::setup::Setup,
    &super::user::User,
    &super::user::Group,
    &super::get_url::GetUrl,
    &super::git::Git,
    &super::net::Uri,
    &super::pip::Pip,
    &super::net::WaitFor,
    &super::apt::Apt,
    &super::service::Service,
    &super::repository::Deb822Repository,
    &super::sqlite_to_postgres::SqliteToPostgres,
    &super::postgresql::PostgresqlDb,
    &super::postgresql::PostgresqlUser,
    &super::postgresql::PostgresqlPrivs,
    &super::postgresql::PostgresqlMembership,
    &super::postgresql::PostgresqlQuery,
    &super::postgresql::PostgresqlPing,
    &super::postgresql::PostgresqlExt,
    &super::postgresql::PostgresqlSet,
    &super::postgresql::PostgresqlInfo,
    &super::postgresql::PostgresqlPgHba,
];

/// Collection prefixes that name the same built-in modules.
const PREFIXES: &[&str] = &[
    "ansible.builtin.",
    "ansible.legacy.",
    "community.postgresql.",
];

/// The canonical short name for a module as written in a playbook.
pub fn canonical_name(raw: &str) -> Option<&'static str> {
    let short = PREFIXES
        .iter()
        .find_map(|p| raw.strip_prefix(p))
        .unwrap_or(raw);
    let short = match short {
        "gather_facts" => "setup",
        "package" => "apt",
        "systemd" | "systemd_service" => "service",
        "postgresql_alter_system" => "postgresql_set",
        other => other,
    };
    MODULES.iter().map(|m| m.spec().name).find(|n| *n == short)
}

pub fn get(name: &str) -> Option<&'static dyn Module> {
    MODULES.iter().copied().find(|m| m.spec().name == name)
}

/// The spec of a module known to exist (from `canonical_name`).
pub fn spec(name: &str) -> &'static ModuleSpec {
    get(name)
        .map(|m| m.spec())
        .expect("canonical module names are registered")
}

pub fn names() -> impl Iterator<Item = &'static str> {
    MODULES.iter().map(|m| m.spec().name)
}

pub fn all() -> &'static [&'static dyn Module] {
    MODULES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqcn_and_short_names_resolve() {
        assert_eq!(canonical_name("ansible.builtin.copy"), Some("copy"));
        assert_eq!(canonical_name("copy"), Some("copy"));
        assert_eq!(canonical_name("ansible.builtin.nope"), None);
        assert_eq!(canonical_name("ansible.builtin.package"), Some("apt"));
        assert_eq!(
            canonical_name("ansible.builtin.systemd_service"),
            Some("service")
        );
        assert_eq!(canonical_name("systemd"), Some("service"));
    }
}
