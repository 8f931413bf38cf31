//! `keyward patterns`: the regular expressions that match keyward tokens, for secret scanners.

use std::io::Write;

use keyward_core::token::TokenFormat;

use super::error::CliError;
use super::output::Printer;

/// The token formats the command line mints and accepts.
pub(crate) fn formats() -> Vec<TokenFormat> {
    vec![TokenFormat::default()]
}

/// Prints each format's [`TokenFormat::scan_pattern`], one per line.
///
/// # Errors
///
/// [`CliError::Output`] when stdout cannot be written.
pub(crate) fn run<O: Write, E: Write>(printer: &mut Printer<O, E>) -> Result<(), CliError> {
    let formats = formats();
    let patterns: Vec<(&str, String)> = formats
        .iter()
        .map(|format| (format.namespace(), format.scan_pattern()))
        .collect();
    printer.patterns(&patterns).map_err(CliError::Output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pattern_per_line() {
        let mut out = Vec::new();
        run(&mut Printer::new(false, &mut out, Vec::new())).expect("written");
        let text = String::from_utf8(out).expect("utf-8");
        // That `grep -E` finds minted tokens with it is checked end to end in tests/cli.rs.
        assert_eq!(text, format!("{}\n", TokenFormat::default().scan_pattern()));
        assert!(text.starts_with(r"\bkw_(live|test)_"), "{text}");
    }
}
