//! The `marketlog` binary; everything lives in the `api` library.

/// mimalloc, as in every Marketlog binary (glibc malloc costs the log writer dearly).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    api::cli::main()
}
