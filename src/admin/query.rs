//! Request values, parsed and checked once for every face. A transport hands over what the
//! client sent (proto3 scalars, where "" and 0 mean "not given", or optional query fields) and
//! gets typed values back, or the same `InvalidInput` whichever face asked.

use std::num::NonZeroU32;

use super::error::{AdminResult, InvalidInput};
use crate::clock::Millis;
use crate::keystore::KeyError;
use crate::rotation::events::EventStatus;
use crate::rotation::BatchSize;

/// A key name that passed the envelope's name rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyName(String);

impl KeyName {
    pub(crate) fn parse(name: &str) -> Result<Self, KeyError> {
        crate::crypto::validate_key_name(name).map_err(|_| KeyError::invalid_key_name(name))?;
        Ok(Self(name.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// How many events a list returns: 1 to [`Limit::MAX`]; not given (or 0) means
/// [`Limit::DEFAULT`], more than the maximum means the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit(NonZeroU32);

impl Limit {
    pub(crate) const DEFAULT: u32 = 50;
    pub(crate) const MAX: u32 = 1000;

    pub(crate) fn new(requested: Option<u32>) -> Self {
        let n = match requested.unwrap_or(0) {
            0 => Self::DEFAULT,
            n => n.min(Self::MAX),
        };
        Self(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
    }

    pub(crate) fn get(self) -> u32 {
        self.0.get()
    }
}

/// Which events to list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventQuery {
    pub(crate) key: Option<KeyName>,
    pub(crate) status: Option<EventStatus>,
    pub(crate) limit: Limit,
}

impl EventQuery {
    /// From what a client sent; an empty key or status means "any".
    pub(crate) fn parse(
        key: Option<&str>,
        status: Option<&str>,
        limit: Option<u32>,
    ) -> AdminResult<Self> {
        let key = given(key).map(KeyName::parse).transpose()?;
        let status = given(status)
            .map(|s| EventStatus::parse(s).ok_or_else(|| InvalidInput::UnknownStatus(s.into())))
            .transpose()?;
        Ok(Self {
            key,
            status,
            limit: Limit::new(limit),
        })
    }
}

/// The batch size an ExecuteEvent names. proto3 cannot tell 0 from "not set", so on every
/// face 0 and absent both keep the event's own batch size; 1 to `BatchSize::MAX` replace it.
pub(crate) fn batch_size(requested: Option<u32>) -> AdminResult<Option<BatchSize>> {
    match requested {
        None | Some(0) => Ok(None),
        Some(n) => Ok(Some(BatchSize::new(n).map_err(InvalidInput::from)?)),
    }
}

/// `text` unless empty: proto3 and query strings both send "" for "not given".
pub(crate) fn given(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.is_empty())
}

/// An RFC 3339 time as milliseconds; empty means not given.
pub(crate) fn rfc3339_time(
    field: &'static str,
    value: Option<&str>,
) -> AdminResult<Option<Millis>> {
    given(value)
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.timestamp_millis())
                .map_err(|_| {
                    InvalidInput::BadTime {
                        field,
                        value: truncated(v),
                    }
                    .into()
                })
        })
        .transpose()
}

/// At most 64 characters of a client's value, for an error message.
fn truncated(value: &str) -> String {
    crate::excerpt::excerpt(value, 64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::AdminError;

    #[test]
    fn limits_default_and_cap() {
        assert_eq!(Limit::new(None).get(), 50);
        assert_eq!(Limit::new(Some(0)).get(), 50);
        assert_eq!(Limit::new(Some(7)).get(), 7);
        assert_eq!(Limit::new(Some(5000)).get(), 1000);
    }

    #[test]
    fn event_queries_refuse_unknown_status_and_bad_key_names() {
        let q = EventQuery::parse(Some(""), Some(""), None).expect("empty means any");
        assert_eq!((q.key, q.status), (None, None));
        let err = EventQuery::parse(None, Some("done"), None).unwrap_err();
        assert!(matches!(
            err,
            AdminError::Invalid(InvalidInput::UnknownStatus(_))
        ));
        let err = EventQuery::parse(Some("bad name!"), None, None).unwrap_err();
        assert!(matches!(
            err,
            AdminError::Key(KeyError::InvalidKeyName { .. })
        ));
    }

    #[test]
    fn batch_size_zero_or_absent_keeps_the_events_own() {
        assert_eq!(batch_size(None).unwrap(), None);
        assert_eq!(batch_size(Some(0)).unwrap(), None);
        assert_eq!(
            batch_size(Some(10)).unwrap(),
            Some(BatchSize::new(10).unwrap())
        );
        assert!(batch_size(Some(BatchSize::MAX + 1)).is_err());
    }
}
