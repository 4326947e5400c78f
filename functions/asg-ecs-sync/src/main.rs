//! Placeholder binary: this function's behaviour is not built yet.

fn main() {
    eprintln!("asg-ecs-sync: not implemented yet");
    std::process::exit(1);
}
