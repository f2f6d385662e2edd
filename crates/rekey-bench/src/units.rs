//! Human-readable figures for the printed tables: rates, byte rates, latencies, sizes.

/// 12.3k, 4.56M: a rate or count for a table.
pub fn si(value: f64) -> String {
    if value >= 1e9 {
        format!("{:.2}G", value / 1e9)
    } else if value >= 1e6 {
        format!("{:.2}M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

/// Bytes per second as MB/s or GB/s (decimal, as `openssl speed`).
pub fn bytes_per_s(value: f64) -> String {
    if value >= 1e9 {
        format!("{:.2} GB/s", value / 1e9)
    } else {
        format!("{:.1} MB/s", value / 1e6)
    }
}

/// Microseconds as µs or ms.
pub fn micros(value: f64) -> String {
    if value >= 10_000.0 {
        format!("{:.1} ms", value / 1000.0)
    } else {
        format!("{value:.0} µs")
    }
}

pub fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

pub fn size_label(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} B")
    }
}
