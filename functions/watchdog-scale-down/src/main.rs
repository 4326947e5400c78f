//! Placeholder binary: this function's behaviour is not built yet.

fn main() {
    eprintln!("watchdog-scale-down: not implemented yet");
    std::process::exit(1);
}
