//! TOML parse errors of the configuration files in plain words: the file, the line, the key (with
//! its table) and the expected form, instead of the deserializer's internals ("data did not match
//! any variant of untagged enum", "expected usize", "invalid type: map, expected a sequence").

use super::ConfigError;
use std::path::Path;

/// A parse error of `text` (the file at `path`) as a [`ConfigError`] a person can act on.
pub(crate) fn plain(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let message = e.message().trim().to_string();
    let at = e.span().map(|s| s.start).unwrap_or(0).min(text.len());
    let line_no = text[..at].matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
    let table = text[..at]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.to_string());
    // The key the error is about: the `key = ...` on the line, else a table header.
    let key = if line.starts_with('[') {
        line.trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_string()
    } else {
        line.split('=').next().unwrap_or("").trim().to_string()
    };
    let what = explain(&message, &key, line);
    let place = match (&table, key.is_empty() || line.starts_with('[')) {
        (_, true) if key.is_empty() => format!("line {line_no}"),
        (_, true) => format!("line {line_no}, {line}"),
        (Some(t), false) => format!("line {line_no}, key `{key}` in {t}"),
        (None, false) => format!("line {line_no}, key `{key}`"),
    };
    ConfigError::Parse {
        path: path.to_path_buf(),
        message: format!("{place}: {what}"),
    }
}

/// The expected form in words for the deserializer's messages we know; others as they are.
fn explain(message: &str, key: &str, line: &str) -> String {
    let got = got_kind(message);
    if message.contains("untagged enum PskConfig") {
        return "`psk` must be \"gba\" or { identity = \"NAME\", key_file = \"FILE\" }".into();
    }
    if message.contains("expected a sequence") && message.contains("map") {
        if line.starts_with('[') && !line.starts_with("[[") {
            return format!(
                "`{key}` is a list of tables: write [[{key}]] (two brackets) for each entry, not [{key}]"
            );
        }
        return format!("`{key}` must be a list: [ ... ] or [[{key}]] tables");
    }
    for (ty, words) in [
        ("usize", "a whole number (no quotes)"),
        ("u64", "a whole number (no quotes)"),
        ("u32", "a whole number (no quotes)"),
        ("u16", "a whole number up to 65535 (no quotes)"),
        ("u8", "a whole number up to 255 (no quotes)"),
        ("a boolean", "true or false (no quotes)"),
        ("a string", "a quoted string"),
        ("a sequence", "a list [ ... ]"),
    ] {
        if message.ends_with(&format!("expected {ty}")) {
            return format!("expected {words}{got}");
        }
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        return format!("unknown key {rest}");
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return format!("missing key {rest}");
    }
    message.to_string()
}

/// ", got a string" from "invalid type: string \"x\", expected ...".
fn got_kind(message: &str) -> String {
    let Some(rest) = message.strip_prefix("invalid type: ") else {
        if message.starts_with("invalid value: integer") {
            return ", got a negative or too large number".into();
        }
        return String::new();
    };
    let kind = rest.split([',', ' ']).next().unwrap_or("");
    match kind {
        "string" => ", got a quoted string".into(),
        "integer" => ", got a number".into(),
        "floating" => ", got a decimal number".into(),
        "boolean" => ", got true/false".into(),
        "map" => ", got a table".into(),
        "sequence" => ", got a list".into(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err<T: serde::de::DeserializeOwned + std::fmt::Debug>(text: &str) -> String {
        let e = toml::from_str::<T>(text).expect_err("must fail");
        plain(Path::new("gw.toml"), text, &e).to_string()
    }

    #[test]
    fn route_as_a_single_table() {
        use crate::config::GatewayFile;
        let m = parse_err::<GatewayFile>(
            "state_dir = \"/tmp/x\"\n[route]\nlisten = \"127.0.0.1:1\"\nupstream = \"a:1\"\npsk = \"gba\"\n",
        );
        assert_eq!(
            m,
            "gw.toml: line 2, [route]: `route` is a list of tables: write [[route]] (two brackets) for each entry, not [route]"
        );
    }

    #[test]
    fn psk_of_the_wrong_shape() {
        use crate::config::GatewayFile;
        let m = parse_err::<GatewayFile>(
            "[[route]]\nlisten = \"127.0.0.1:1\"\nupstream = \"a:1\"\npsk = { identity = \"x\" }\n",
        );
        assert!(
            m.starts_with("gw.toml: line 4, key `psk` in [[route]]: "),
            "{m}"
        );
        assert!(
            m.contains("\"gba\" or { identity = \"NAME\", key_file = \"FILE\" }"),
            "{m}"
        );
        assert!(!m.contains("untagged"), "{m}");
    }

    #[test]
    fn a_quoted_number() {
        use crate::config::GatewayFile;
        let m = parse_err::<GatewayFile>("[session]\nqueue_limit = \"64\"\n");
        assert_eq!(
            m,
            "gw.toml: line 2, key `queue_limit` in [session]: expected a whole number (no quotes), got a quoted string"
        );
        let m = parse_err::<GatewayFile>("[session]\nqueue_limit = -1\n");
        assert!(
            m.contains("expected a whole number (no quotes), got a negative"),
            "{m}"
        );
        let m = parse_err::<GatewayFile>("[session]\nconnection_id = \"yes\"\n");
        assert!(m.contains("expected true or false"), "{m}");
        let m = parse_err::<GatewayFile>("[session]\nqueue_limt = 3\n");
        assert!(
            m.contains("key `queue_limt` in [session]: unknown key `queue_limt`"),
            "{m}"
        );
        let m = parse_err::<GatewayFile>("[[route]]\nupstream = \"a:1\"\npsk = \"gba\"\n");
        assert_eq!(m, "gw.toml: line 1, [[route]]: missing key `listen`");
    }
}
