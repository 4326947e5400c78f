//! Placeholder binary: this function's behaviour is not built yet.

fn main() {
    eprintln!("dns-record-updater: not implemented yet");
    std::process::exit(1);
}
