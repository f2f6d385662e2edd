//! Quoting a rejected value in an error message: enough of it to recognise, never a flood of
//! whatever a caller sent. Secrets are never passed here; their callers say `<redacted>`.

/// The first `max_chars` characters of `value`, with "…" when some were left out.
pub(crate) fn excerpt(value: &str, max_chars: usize) -> String {
    match value.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::excerpt;

    #[test]
    fn keeps_short_values_and_marks_cut_ones() {
        assert_eq!(excerpt("abc", 3), "abc");
        assert_eq!(excerpt("abcd", 3), "abc…");
        // Cut at a character boundary, never inside a multi-byte character.
        assert_eq!(excerpt("ééé", 2), "éé…");
        assert_eq!(excerpt("", 5), "");
    }
}
