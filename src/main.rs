#![forbid(unsafe_code)]

use clap::Parser;
use ota_doctor::cli::Cli;

fn main() {
    let cli = Cli::parse();
    let code = match ota_doctor::commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            2
        }
    };
    std::process::exit(code);
}
