//! `BatchSize`: rows per migration batch, checked against its bounds once, where the number
//! enters Rekey (config file, command line, an API request); past that point it is known good.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

/// Rows per migration batch, 1 to [`BatchSize::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(try_from = "u32")]
pub struct BatchSize(NonZeroU32);

/// A number outside 1..=[`BatchSize::MAX`], or not a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchSizeError {
    #[error("batch_size must be between 1 and {max}, got {0}", max = BatchSize::MAX)]
    OutOfRange(u64),
    #[error("batch_size must be a whole number between 1 and {max}, got {0:?}", max = BatchSize::MAX)]
    NotANumber(String),
}

impl BatchSize {
    /// Largest batch a migration may use: bounds the rows (and ciphertexts) held in memory.
    pub const MAX: u32 = 100_000;
    /// Rows per batch when neither a target nor ExecuteEvent names a size.
    pub(crate) const DEFAULT: BatchSize = match NonZeroU32::new(1000) {
        Some(n) => BatchSize(n),
        None => unreachable!(),
    };

    pub fn new(rows: u32) -> Result<Self, BatchSizeError> {
        match NonZeroU32::new(rows) {
            Some(n) if rows <= Self::MAX => Ok(BatchSize(n)),
            _ => Err(BatchSizeError::OutOfRange(u64::from(rows))),
        }
    }

    pub(crate) fn get(self) -> u32 {
        self.0.get()
    }
}

impl Default for BatchSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TryFrom<u32> for BatchSize {
    type Error = BatchSizeError;

    fn try_from(rows: u32) -> Result<Self, Self::Error> {
        Self::new(rows)
    }
}

impl From<BatchSize> for u32 {
    fn from(size: BatchSize) -> u32 {
        size.get()
    }
}

impl FromStr for BatchSize {
    type Err = BatchSizeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rows: u64 = s
            .trim()
            .parse()
            .map_err(|_| BatchSizeError::NotANumber(s.to_owned()))?;
        u32::try_from(rows)
            .map_err(|_| BatchSizeError::OutOfRange(rows))
            .and_then(Self::new)
    }
}

impl fmt::Display for BatchSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive_and_checked_on_every_way_in() {
        assert_eq!(BatchSize::new(1).unwrap().get(), 1);
        assert_eq!(BatchSize::new(BatchSize::MAX).unwrap().get(), 100_000);
        assert_eq!(BatchSize::new(0), Err(BatchSizeError::OutOfRange(0)));
        assert_eq!(
            BatchSize::new(100_001),
            Err(BatchSizeError::OutOfRange(100_001))
        );
        assert_eq!("250".parse::<BatchSize>().unwrap().get(), 250);
        assert_eq!(
            "5000000000".parse::<BatchSize>(),
            Err(BatchSizeError::OutOfRange(5_000_000_000))
        );
        assert!(matches!(
            "ten".parse::<BatchSize>(),
            Err(BatchSizeError::NotANumber(_))
        ));
        assert_eq!(BatchSize::default().get(), 1000);
    }

    #[test]
    fn deserializing_refuses_out_of_range_values_with_the_bounds_in_the_message() {
        #[derive(Debug, serde::Deserialize)]
        struct Section {
            batch_size: BatchSize,
        }
        let err = toml::from_str::<Section>("batch_size = 0").unwrap_err();
        assert!(err.to_string().contains("between 1 and 100000"), "{err}");
        let ok: Section = toml::from_str("batch_size = 500").unwrap();
        assert_eq!(ok.batch_size.get(), 500);
    }
}
