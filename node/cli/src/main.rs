//! The `node` binary: the command line of the `node` library with every built-in module.

fn main() -> std::process::ExitCode {
    node::main()
}
