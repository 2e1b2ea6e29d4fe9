//! Reaching the hosts of a rollback the way their changes were made: the
//! connection and become user kept in each undo record.

use super::Connector;
use super::record::UndoRecord;
use crate::connection::{Become, Connection};

pub struct RecordedConnector {
    /// Trust the key of an SSH host not yet in known_hosts.
    pub accept_new_host_keys: bool,
    /// The sudo password for changes made with become.
    pub become_password: Option<String>,
}

impl Connector for RecordedConnector {
    fn connect(&mut self, _host: &str, record: &UndoRecord) -> Box<dyn Connection> {
        record.conn.open(self.accept_new_host_keys)
    }

    fn become_for(&self, record: &UndoRecord) -> Option<Become> {
        record.become_user.as_ref().map(|user| Become {
            user: user.clone(),
            password: self.become_password.clone(),
        })
    }
}
