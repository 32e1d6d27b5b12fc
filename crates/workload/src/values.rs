//! The command line's values, parsed the same way in every binary: whole numbers with one
//! wording for every range, sizes with K, M and G, addresses, and paths kept for the life of
//! the process (so that `Args` stays `Copy`).

use std::net::{SocketAddr, ToSocketAddrs};

/// The alignment O_DIRECT asks for on every device this project meets (4 KiB logical
/// blocks at most), and so the unit of `--bytes` and `--file-size`.
pub const ALIGN: usize = 4096;

/// A whole-number type a flag can take, and its largest value.
pub trait Whole: TryFrom<i128> + Into<i128> + Copy + Send + Sync + 'static {
    const MAX: Self;
}

impl Whole for u32 {
    const MAX: u32 = u32::MAX;
}

impl Whole for u64 {
    const MAX: u64 = u64::MAX;
}

/// A parser of whole numbers from `min` up, which says every way of missing it alike:
/// "'ten' is not a whole number", "-1 is below 0", "5000000000 is above 4294967295". Give
/// the flag `allow_negative_numbers`, or clap takes `-1` for a flag of its own.
pub fn at_least<T: Whole>(min: T) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync {
    move |s: &str| {
        let n: i128 = s.trim().parse().map_err(|_| format!("'{s}' is not a whole number"))?;
        if n < min.into() {
            return Err(format!("{n} is below {}", min.into()));
        }
        T::try_from(n).map_err(|_| format!("{n} is above {}", T::MAX.into()))
    }
}

/// [`at_least`] with a bound above as well, and the reason for it: "86400001 is above
/// 86400000 (a day)".
fn within<T: Whole>(
    min: T,
    max: T,
    why: &'static str,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync {
    let at_least = at_least(min);
    move |s: &str| {
        let n = at_least(s)?;
        if n.into() > max.into() {
            return Err(format!("{} is above {} ({why})", n.into(), max.into()));
        }
        Ok(n)
    }
}

/// `--rows`: 1 up to 2,147,483,647, the most rows `items.id` (an int) can number.
pub fn rows(s: &str) -> Result<u32, String> {
    within::<u32>(1, i32::MAX as u32, "items.id is an int")(s)
}

/// The most threads or processes a Linux kernel can run at once, whatever its settings:
/// PID_MAX_LIMIT, the ceiling of kernel.pid_max on 64-bit machines. A pool larger than this
/// is bad input, not a limit to raise.
pub const MOST_WORKERS: u32 = 4_194_304;

/// `--workers`: 1 up to [`MOST_WORKERS`].
pub fn workers(s: &str) -> Result<u32, String> {
    within(1, MOST_WORKERS, "PID_MAX_LIMIT, the most threads or processes Linux can run")(s)
}

/// The longest wait a flag in milliseconds takes: a day. No task of a benchmark waits
/// longer, and past it a deadline (now + the wait) could overflow the clock.
pub const MOST_MS: u64 = 86_400_000;

/// `--ms` and `--timeout-ms`: whole milliseconds from `min` up to a day.
pub fn millis(min: u64) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync {
    within(min, MOST_MS, "a day")
}

/// A size in bytes, with an optional K, M or G (powers of 1024; "1G", "1GiB"); a multiple of
/// 4096.
pub fn size(s: &str) -> Result<u64, String> {
    let bad = || format!("'{s}' is not a size (say 4096, 64M or 1G)");
    let upper = s.to_ascii_uppercase();
    let number = upper.trim_end_matches("IB").trim_end_matches('B');
    let (digits, shift) = match number.as_bytes().last() {
        Some(b'K') => (&number[..number.len() - 1], 10),
        Some(b'M') => (&number[..number.len() - 1], 20),
        Some(b'G') => (&number[..number.len() - 1], 30),
        Some(b'T') => (&number[..number.len() - 1], 40),
        _ => (number, 0),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let size = n.checked_mul(1 << shift).ok_or(format!("'{s}' is too large"))?;
    if size == 0 || size % ALIGN as u64 != 0 {
        return Err(format!("{size} bytes is not a positive multiple of 4096"));
    }
    Ok(size)
}

/// `--bytes`: a positive multiple of 4096, at most 1 GiB.
pub fn block(s: &str) -> Result<u32, String> {
    let size = size(s)?;
    u32::try_from(size).ok().filter(|&b| b <= 1 << 30).ok_or(format!("{size} is over 1 GiB"))
}

/// HOST:PORT, resolved.
pub fn addr(s: &str) -> Result<SocketAddr, String> {
    s.to_socket_addrs()
        .map_err(|e| format!("{e} (expected HOST:PORT)"))?
        .next()
        .ok_or_else(|| format!("{s} resolves to no address"))
}

/// A path, kept for the life of the process.
pub fn leak(s: &str) -> Result<&'static str, String> {
    Ok(Box::leak(s.to_owned().into_boxed_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_range_is_said_the_same_way() {
        let tasks = at_least::<u32>(1);
        assert_eq!(tasks("12"), Ok(12));
        assert_eq!(tasks("0"), Err("0 is below 1".into()));
        assert_eq!(tasks("-3"), Err("-3 is below 1".into()));
        assert_eq!(tasks("ten"), Err("'ten' is not a whole number".into()));
        assert_eq!(tasks("4294967296"), Err("4294967296 is above 4294967295".into()));
        assert_eq!(at_least::<u64>(0)("-1"), Err("-1 is below 0".into()));
    }

    #[test]
    fn sizes_take_binary_suffixes_and_must_be_whole_blocks() {
        assert_eq!(size("4096"), Ok(4096));
        assert_eq!(size("64M"), Ok(64 << 20));
        assert_eq!(size("1GiB"), Ok(1 << 30));
        assert!(size("5000").is_err() && size("0").is_err() && size("lots").is_err());
        assert!(block("2G").is_err());
    }
}
