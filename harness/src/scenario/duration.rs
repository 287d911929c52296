//! [`HumanDuration`]: a duration written as a humantime string (`"30s"`, `"4h"`, `"1m 30s"`).

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration that scenario files spell as a humantime string such as `"30s"` or `"4h"`.
///
/// Bare numbers are rejected on purpose: `timeout = 30` does not say whether it means seconds or
/// milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The wrapped duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        Self(d)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

struct HumanDurationVisitor;

impl Visitor<'_> for HumanDurationVisitor {
    type Value = HumanDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration string such as \"30s\", \"5m\" or \"4h\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
        humantime::parse_duration(v).map(HumanDuration).map_err(|e| {
            E::custom(format_args!(
                "invalid duration {v:?}: {e} (hint: write a number and a unit, e.g. \"30s\", \"5m\", \"4h\")"
            ))
        })
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<HumanDuration, E> {
        Err(E::custom(format_args!(
            "a duration needs a unit: found the bare number {v} (hint: write \"{v}s\" for seconds)"
        )))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<HumanDuration, E> {
        self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<HumanDuration, E> {
        Err(E::custom(format_args!(
            "a duration needs a unit: found the bare number {v} (hint: write e.g. \"1500ms\")"
        )))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(HumanDurationVisitor)
    }
}

impl schemars::JsonSchema for HumanDuration {
    fn schema_name() -> Cow<'static, str> {
        "HumanDuration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration: a number and a unit, e.g. \"30s\", \"5m\", \"4h\", \"1m 30s\".",
            "pattern": "^\\s*[0-9]+\\s*[a-zµ]+(\\s*[0-9]+\\s*[a-zµ]+)*\\s*$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct T {
        d: HumanDuration,
    }

    #[test]
    fn parses_table() {
        for (src, want) in [
            ("d = \"30s\"", Ok(Duration::from_secs(30))),
            ("d = \"4h\"", Ok(Duration::from_secs(4 * 3600))),
            ("d = \"1m 30s\"", Ok(Duration::from_secs(90))),
            ("d = \"250ms\"", Ok(Duration::from_millis(250))),
            ("d = 30", Err("needs a unit")),
            ("d = 1.5", Err("needs a unit")),
            ("d = \"thirty\"", Err("invalid duration")),
            ("d = \"\"", Err("invalid duration")),
        ] {
            let got = toml::from_str::<T>(src)
                .map(|t| t.d.0)
                .map_err(|e| e.to_string());
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w, "{src}"),
                (Err(g), Err(w)) => assert!(g.contains(w), "{src}: {g}"),
                (g, w) => panic!("{src}: got {g:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn display_round_trips() {
        for d in [
            Duration::from_secs(90),
            Duration::from_millis(1),
            Duration::from_secs(86_400),
        ] {
            let s = HumanDuration(d).to_string();
            assert_eq!(humantime::parse_duration(&s).unwrap(), d);
        }
    }
}
