//! `inventory --list|--graph|--host`: the resolved inventory, as ansible-inventory shows it.

use super::CliError;
use super::run_args::render_inventory_error;
use clap::Args;
use tbuddy_deploy::inventory::Inventory;
// Values of vault-encrypted vars files show as <redacted>.
use tbuddy_deploy::vault::taint::scrub;

#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// Inventory: a name (inventory/NAME.yml or inventory/NAME/) or a path.
    #[arg(short = 'i', long = "inventory", default_value = "local")]
    pub inventory: String,
    /// Print every group, host and variable as JSON.
    #[arg(long, conflicts_with_all = ["graph", "host"])]
    pub list: bool,
    /// Print the group tree.
    #[arg(long, conflicts_with = "host")]
    pub graph: bool,
    /// Print one host's variables as JSON.
    #[arg(long)]
    pub host: Option<String>,
}

pub fn exec(args: InventoryArgs) -> Result<i32, CliError> {
    let project = std::env::current_dir()
        .map_err(|e| CliError::usage(format!("cannot read the current directory: {e}")))?;
    let inv = Inventory::load_with_vault(
        &args.inventory,
        &project,
        tbuddy_deploy::vault::inventory_decryptor(),
    )
    .map_err(|e| CliError::usage(render_inventory_error(e)))?;
    if args.graph {
        print!("{}", inv.graph());
    } else if let Some(host) = &args.host {
        if inv.host(host).is_none() {
            return Err(CliError::usage(format!(
                "error: no host named {host} in the inventory"
            )));
        }
        let vars = serde_json::Value::Object(inv.host_vars(host));
        println!(
            "{}",
            scrub(&serde_json::to_string_pretty(&vars).unwrap_or_default())
        );
    } else {
        let list = inv.to_list_json();
        println!(
            "{}",
            scrub(&serde_json::to_string_pretty(&list).unwrap_or_default())
        );
    }
    Ok(super::exit::OK)
}
