//! [`LinkName`]: the name of one directed network link between two components
//! (`janusgraph->hcd`, `client->janusgraph`), used to label a [`FaultProxy`](super::FaultProxy),
//! its errors, and the fault windows written to the history.
//!
//! Pure: no I/O.

use std::fmt;
use std::str::FromStr;

/// The arrow between the two ends in the textual form (ASCII, so it is easy to type in a
/// scenario file).
const ARROW: &str = "->";

/// An invalid link name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkNameError {
    /// The text has no `->` between two ends.
    #[error("parse link name {text:?}: expected `from->to` (hint: e.g. `janusgraph->hcd`)")]
    NoArrow {
        /// The text as given.
        text: String,
    },
    /// One end is not a component name.
    #[error(
        "accept link end {end:?}: a component name is 1 to 32 characters of `a-z`, `0-9` and `-`, \
         starting with a letter"
    )]
    BadEnd {
        /// The offending end.
        end: String,
    },
    /// Both ends are the same component.
    #[error("accept link {end}->{end}: a link joins two different components")]
    SameEnds {
        /// The end given twice.
        end: String,
    },
}

/// A directed link `from -> to`: traffic that `from` opens towards `to`.
///
/// Both ends are component names (`hcd`, `janusgraph`, `client`, `hcd-2`, …), validated on
/// construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkName {
    from: String,
    to: String,
}

impl LinkName {
    /// JanusGraph's CQL sessions to HCD (Cassandra).
    pub fn janusgraph_to_hcd() -> Self {
        Self::known("janusgraph", "hcd")
    }

    /// The harness's workload clients to JanusGraph's Gremlin endpoint.
    pub fn client_to_janusgraph() -> Self {
        Self::known("client", "janusgraph")
    }

    /// A link between two named components.
    pub fn new(from: &str, to: &str) -> Result<Self, LinkNameError> {
        validate_end(from)?;
        validate_end(to)?;
        if from == to {
            return Err(LinkNameError::SameEnds {
                end: from.to_owned(),
            });
        }
        Ok(Self {
            from: from.to_owned(),
            to: to.to_owned(),
        })
    }

    /// The component that opens the connections.
    pub fn from(&self) -> &str {
        &self.from
    }

    /// The component that accepts them.
    pub fn to(&self) -> &str {
        &self.to
    }

    fn known(from: &str, to: &str) -> Self {
        Self::new(from, to).expect("the built-in link names are valid")
    }
}

fn validate_end(end: &str) -> Result<(), LinkNameError> {
    let ok = (1..=32).contains(&end.len())
        && end.starts_with(|c: char| c.is_ascii_lowercase())
        && end
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(LinkNameError::BadEnd {
            end: end.to_owned(),
        })
    }
}

impl fmt::Display for LinkName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{ARROW}{}", self.from, self.to)
    }
}

impl FromStr for LinkName {
    type Err = LinkNameError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (from, to) = text
            .split_once(ARROW)
            .ok_or_else(|| LinkNameError::NoArrow {
                text: text.to_owned(),
            })?;
        Self::new(from.trim(), to.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_links_display() {
        assert_eq!(LinkName::janusgraph_to_hcd().to_string(), "janusgraph->hcd");
        assert_eq!(
            LinkName::client_to_janusgraph().to_string(),
            "client->janusgraph"
        );
    }

    #[test]
    fn parse_table() {
        let ok = [
            ("janusgraph->hcd", ("janusgraph", "hcd")),
            (" client -> janusgraph ", ("client", "janusgraph")),
            ("hcd-1->hcd-2", ("hcd-1", "hcd-2")),
        ];
        for (text, (from, to)) in ok {
            let link: LinkName = text.parse().unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!((link.from(), link.to()), (from, to), "{text:?}");
            assert_eq!(link.to_string().parse::<LinkName>(), Ok(link.clone()));
        }

        let bad = [
            ("janusgraph", "expected `from->to`"),
            ("->hcd", "a component name"),
            ("JanusGraph->hcd", "a component name"),
            ("janusgraph->hcd->x", "a component name"),
            ("1hcd->janusgraph", "a component name"),
            ("hcd->hcd", "two different components"),
        ];
        for (text, want) in bad {
            let err = text.parse::<LinkName>().expect_err(text).to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
