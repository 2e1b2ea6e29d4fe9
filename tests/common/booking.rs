//! The booking bot's PostgreSQL layout as a playbook, shared by the tests
//! that converge it on a throwaway cluster and on a container's cluster.

pub const CLIENTS: [&str; 3] = ["client_001", "client_002", "client_003"];

/// The booking bot's layout, for `hosts` with `login` arguments added to each task.
pub fn layout(hosts: &str, become_: &str, login: &str) -> String {
    let task = |module: &str, args: &str, looped: bool| {
        let mut t = format!("    - name: {module}\n      {module}:\n");
        for line in args.lines() {
            t.push_str(&format!("        {line}\n"));
        }
        for line in login.lines() {
            t.push_str(&format!("        {line}\n"));
        }
        if looped {
            t.push_str("      loop: \"{{ clients }}\"\n");
        }
        t
    };
    let mut y = format!(
        "- hosts: {hosts}\n  gather_facts: false\n{become_}  vars:\n    clients: [{}]\n  tasks:\n",
        CLIENTS.join(", ")
    );
    y += &task(
        "postgresql_user",
        "name: \"{{ item }}\"\npassword: \"pw-{{ item }}\"\nconn_limit: 50\nrole_attr_flags: LOGIN,NOCREATEDB",
        true,
    );
    y += &task(
        "postgresql_user",
        "name: monitoring_user\npassword: pw-monitoring\nconn_limit: 10",
        false,
    );
    y += &task(
        "postgresql_db",
        "name: \"{{ item }}_db\"\nowner: \"{{ item }}\"\nencoding: UTF8\ntemplate: template0",
        true,
    );
    y += &task(
        "postgresql_privs",
        "database: \"{{ item }}_db\"\ntype: database\nprivs: CONNECT,CREATE\nroles: PUBLIC\nstate: absent",
        true,
    );
    y += &task(
        "postgresql_privs",
        "database: \"{{ item }}_db\"\ntype: database\nprivs: CONNECT\nroles: monitoring_user",
        true,
    );
    y += &task(
        "postgresql_privs",
        "database: \"{{ item }}_db\"\ntype: schema\nobjs: public\nprivs: USAGE\nroles: monitoring_user",
        true,
    );
    y += &task(
        "postgresql_privs",
        "database: \"{{ item }}_db\"\ntype: table\nobjs: ALL_IN_SCHEMA\nprivs: SELECT\nroles: monitoring_user",
        true,
    );
    y += &task(
        "postgresql_privs",
        "database: \"{{ item }}_db\"\ntype: default_privs\nobjs: TABLES\nprivs: SELECT\nroles: monitoring_user\ntarget_roles: \"{{ item }}\"",
        true,
    );
    y
}
