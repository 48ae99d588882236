//! Progress bars on stderr (records/s and ETA, or steps and elapsed time). indicatif measures
//! the elapsed time itself, so no clock is read here.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const TEMPLATE: &str = "{msg} [{bar:40}] {human_pos}/{human_len} records ({per_sec:0}, eta {eta})";

/// A bar of `len` records on stderr, or a hidden one when `--no-progress` was given or
/// stderr is not a terminal (so pipes and logs stay clean).
pub fn bar(show: bool, len: u64, label: &str) -> ProgressBar {
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(TEMPLATE)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(style);
    bar.set_message(label.to_string());
    bar
}

const STEPS_TEMPLATE: &str = "{msg} [{bar:40}] {pos}/{len} {prefix} ({elapsed})";

/// A bar of `len` steps of what `unit` names (e.g. "projections"), hidden as [`bar`] is.
pub fn steps(show: bool, len: u64, unit: &str, label: &str) -> ProgressBar {
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(STEPS_TEMPLATE)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(style);
    bar.set_prefix(unit.to_string());
    bar.set_message(label.to_string());
    bar
}
