//! The tool's one error type and how each kind maps to an exit code (ripgrep style: 0 ok,
//! 1 finding, 2 usage or environment).
//!
//! Invariant: every failure leaves the process through [`ToolError::exit_code`]; nothing
//! panics on input a user or the disk can influence.

use std::process::ExitCode;

/// Exit status when everything checked out.
pub const EXIT_OK: u8 = 0;
/// Exit status when the log itself is wrong (corruption, mismatch).
pub const EXIT_FINDING: u8 = 1;
/// Exit status for bad flags or an unusable environment (missing dir, dir in use).
pub const EXIT_USAGE: u8 = 2;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// A flag value is unusable; the message names the flag.
    #[error("{0}")]
    Usage(String),
    /// The environment does not allow the command (missing data dir, dir in use, output
    /// file not writable, server unreachable or refusing the token).
    #[error("{0}")]
    Environment(String),
    /// The log could not be read because of what is in it.
    #[error("{0}")]
    Finding(String),
    /// The server holding the log failed (answered 5xx): exit 1 like a finding, since the
    /// log could not be read although the request was right.
    #[error("{0}")]
    Server(String),
    /// Writing the output failed; a closed pipe (`| head`) is not an error.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl ToolError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            ToolError::Usage(_) | ToolError::Environment(_) => ExitCode::from(EXIT_USAGE),
            ToolError::Finding(_) | ToolError::Server(_) => ExitCode::from(EXIT_FINDING),
            ToolError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                ExitCode::from(EXIT_OK)
            }
            ToolError::Output(_) => ExitCode::from(EXIT_USAGE),
        }
    }

    /// Whether the error is worth a line on stderr (a closed pipe is not).
    pub fn is_reported(&self) -> bool {
        !matches!(self, ToolError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

impl From<csv::Error> for ToolError {
    fn from(e: csv::Error) -> Self {
        match e.into_kind() {
            csv::ErrorKind::Io(io) => ToolError::Output(io),
            other => ToolError::Output(std::io::Error::other(format!("{other:?}"))),
        }
    }
}
