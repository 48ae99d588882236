//! The `replay-tool` binary; everything lives in the library so tests and future online
//! sources share it.

fn main() -> std::process::ExitCode {
    replay_tool::run(std::env::args_os())
}
