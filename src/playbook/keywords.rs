//! Which keys are allowed where, and what to tell users about the rest.

/// Keywords a play accepts.
pub const PLAY_KEYS: &[&str] = &[
    "name",
    "hosts",
    "vars",
    "vars_files",
    "gather_facts",
    "serial",
    "strategy",
    "max_fail_percentage",
    "any_errors_fatal",
    "pre_tasks",
    "roles",
    "tasks",
    "post_tasks",
    "handlers",
    "tags",
    "become",
    "become_user",
    "become_method",
    "ignore_errors",
    "check_mode",
    "diff",
    "no_log",
    "environment",
    "run_once",
];

/// Keywords shared by tasks, blocks and role entries.
pub const COMMON_KEYS: &[&str] = &[
    "name",
    "when",
    "tags",
    "vars",
    "become",
    "become_user",
    "become_method",
    "ignore_errors",
    "check_mode",
    "diff",
    "no_log",
    "environment",
    "run_once",
    "delegate_to",
];

/// Keywords only tasks (and handlers) accept.
pub const TASK_KEYS: &[&str] = &[
    "loop",
    "with_items",
    "with_list",
    "with_dict",
    "loop_control",
    "register",
    "notify",
    "changed_when",
    "failed_when",
    "until",
    "retries",
    "delay",
    "args",
    "listen",
];

pub const BLOCK_KEYS: &[&str] = &["block", "rescue", "always"];

/// Ansible keywords outside the supported subset, with what to do instead.
pub fn unsupported_hint(key: &str) -> Option<&'static str> {
    Some(match key {
        "async" | "poll" => {
            "async tasks are not supported; run long jobs with `command` and `until`/`retries`"
        }
        "throttle" => "throttle is not supported; use `serial` or `--forks`",
        "delegate_facts" => "delegate_facts is not supported",
        "local_action" => "use the module directly with `delegate_to: localhost`",
        "action" => "write the module name as the task key, e.g. `copy: {src: a, dest: b}`",
        "connection" | "port" | "remote_user" => {
            "set connection details in the inventory (ansible_connection, ansible_port, ansible_user)"
        }
        "collections" | "module_defaults" => {
            "not supported; use fully qualified module names and explicit arguments"
        }
        "debugger" | "timeout" | "ignore_unreachable" | "order" | "force_handlers" => {
            "this keyword is outside the supported playbook subset"
        }
        "include" => "use `include_tasks` or `import_tasks`",
        "include_role" | "import_role" => "list the role under the play's `roles:` instead",
        "include_vars" => "use `vars_files` on the play, or `set_fact`",
        k if k.starts_with("with_") => {
            "use `loop:` (with_items, with_list and with_dict are supported)"
        }
        _ => return None,
    })
}
