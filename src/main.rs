//! The `sijill` command: parse flags, call the library, print.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
