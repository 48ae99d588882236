//! The `replay-tool` binary; everything lives in the library so tests and future online
//! sources share it.

/// mimalloc, as in every Marketlog binary (glibc malloc costs the log writer dearly).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    replay_tool::run(std::env::args_os())
}
