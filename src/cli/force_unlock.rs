//! `force-unlock`: break the run lock of an inventory whose holder is gone.

use super::CliError;
use super::store::{self, StateArgs, state_error};
use clap::Args;
use tbuddy_deploy::inventory::Inventory;

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The inventory whose lock to break.
    #[arg(short = 'i', long = "inventory", default_value = "local")]
    pub inventory: String,
    #[command(flatten)]
    pub state: StateArgs,
}

pub fn exec(args: ForceUnlockArgs) -> Result<i32, CliError> {
    let store = args.state.open()?;
    let key = Inventory::key(&args.inventory, &store::project_dir()?);
    match store.force_unlock(&key).map_err(state_error)? {
        Some(holder) => println!("Broke the lock of inventory {key}, held by {holder}."),
        None => println!("Inventory {key} was not locked."),
    }
    Ok(0)
}
