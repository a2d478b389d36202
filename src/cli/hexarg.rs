//! Hex command-line values with errors that name the option (usage errors: exit 64).

use super::CliError;

/// Parses exactly `N` bytes of hex given to `option`.
pub fn parse_fixed<const N: usize>(option: &str, s: &str) -> Result<[u8; N], CliError> {
    let bytes = hex::decode(s.trim())
        .map_err(|e| CliError::with_code(super::EXIT_USAGE, format!("{option}: not hex ({e})")))?;
    let len = bytes.len();
    bytes.try_into().map_err(|_| {
        CliError::with_code(
            super::EXIT_USAGE,
            format!("{option}: expected {} hex digits, got {}", N * 2, len * 2),
        )
    })
}
