//! Where a target's key space is cut into partitions that migrate concurrently: integer keys
//! into even ranges between the smallest and largest key, text keys at evenly spaced row
//! positions (sampled from the table in the order the target pages in). A partition covers
//! the keys after the previous boundary up to and including its own; the first and last are
//! open-ended, so rows inserted during the migration are covered too.

/// The inclusive ends of the first `n - 1` of `n` even ranges over `[min, max]`, ascending,
/// without repeats (a narrow key range gives fewer partitions).
pub(super) fn int_boundaries(min: i64, max: i64, n: u32) -> Vec<i64> {
    let span = i128::from(max) - i128::from(min);
    let mut ends: Vec<i64> = Vec::new();
    for i in 1..i128::from(n.max(1)) {
        let end = i128::from(min) + span * i / i128::from(n);
        let Ok(end) = i64::try_from(end) else {
            continue;
        };
        if end < max && ends.last().is_none_or(|&last| end > last) {
            ends.push(end);
        }
    }
    ends
}

/// The 0-based row positions ending the first `n - 1` of `n` runs of equal length over
/// `rows` rows, ascending, without repeats.
pub(super) fn row_positions(rows: u64, n: u32) -> Vec<u64> {
    let mut positions: Vec<u64> = Vec::new();
    for i in 1..u128::from(n.max(1)) {
        let run_end = u128::from(rows) * i / u128::from(n);
        let Ok(run_end) = u64::try_from(run_end) else {
            continue;
        };
        if run_end == 0 || run_end >= rows {
            continue;
        }
        if positions.last().is_none_or(|&last| run_end - 1 > last) {
            positions.push(run_end - 1);
        }
    }
    positions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_keys_split_into_even_ranges() {
        assert_eq!(int_boundaries(1, 100, 4), vec![25, 50, 75]);
        assert_eq!(int_boundaries(1, 100, 1), Vec::<i64>::new());
        // Fewer distinct keys than partitions: no empty or repeated ranges.
        assert_eq!(int_boundaries(5, 6, 4), vec![5]);
        assert_eq!(int_boundaries(7, 7, 4), Vec::<i64>::new());
        // The whole i64 range does not overflow.
        let ends = int_boundaries(i64::MIN, i64::MAX, 2);
        assert_eq!(ends, vec![-1]);
    }

    #[test]
    fn text_keys_split_at_even_row_positions() {
        assert_eq!(row_positions(100, 4), vec![24, 49, 74]);
        assert_eq!(row_positions(3, 4), vec![0, 1]);
        assert_eq!(row_positions(0, 4), Vec::<u64>::new());
        assert_eq!(row_positions(1, 4), Vec::<u64>::new());
        assert_eq!(row_positions(100, 1), Vec::<u64>::new());
    }
}
