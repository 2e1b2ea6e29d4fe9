//! The `tbuddy-deploy` binary: parse arguments, call the library, map the
//! outcome to an exit code.

mod cli;

use clap::Parser;

fn main() {
    let args = cli::Cli::try_parse().unwrap_or_else(|e| {
        let _ = e.print();
        let code = if e.use_stderr() { cli::exit::USAGE } else { 0 };
        std::process::exit(code);
    });
    let code = match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            let message = tbuddy_deploy::vault::taint::scrub(&e.message);
            eprint!("{message}");
            if !message.ends_with('\n') {
                eprintln!();
            }
            e.code
        }
    };
    std::process::exit(code);
}
