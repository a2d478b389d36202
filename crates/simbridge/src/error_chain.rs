//! An error with its causes in one line: `outer: cause: root cause`.
//!
//! Errors here keep the error of the layer below as their `source()` instead of copying its text
//! into their own message, so a caller can still match on it. Logs and the CLI print the whole
//! chain with [`chain`], so the words an operator sees stay complete.

use std::error::Error;
use std::fmt;

/// Shows an error and each of its sources, joined by `": "`.
pub struct Chain<'a>(&'a (dyn Error + 'a));

/// The error `e` with its sources, for `{}` in a log line or a CLI message.
pub fn chain<'a>(e: &'a (dyn Error + 'a)) -> Chain<'a> {
    Chain(e)
}

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut next = self.0.source();
        while let Some(e) = next {
            let text = e.to_string();
            // Some errors (of other crates) also print their source in their own message: once
            // is enough.
            if !shown.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            shown = text;
            next = e.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open the card")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("card transport failed")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn every_cause_is_shown_once_in_order() {
        let e = Outer(Middle(std::io::Error::other("reader gone")));
        assert_eq!(
            chain(&e).to_string(),
            "cannot open the card: card transport failed: reader gone"
        );
        let leaf = std::io::Error::other("alone");
        assert_eq!(chain(&leaf).to_string(), "alone");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open modem /dev/x: {source}")]
    struct Both {
        source: std::io::Error,
    }

    #[test]
    fn a_source_already_in_the_message_is_not_repeated() {
        let both = Both {
            source: std::io::Error::other("port busy"),
        };
        assert_eq!(
            chain(&both).to_string(),
            "cannot open modem /dev/x: port busy"
        );
    }
}
