//! The statistics the benchmarks' figures are made with: a value at a quantile of a sample,
//! the median among them, by the contract's nearest rank (`workload::measure::nearest_rank`),
//! so that a median here and a p50 in a report are one rule.

use std::cmp::Ordering;

/// The value at quantile `q` (0 ≤ q ≤ 1) of `values`, by nearest rank; `None` for none.
pub fn quantile<T: Copy + PartialOrd>(values: impl IntoIterator<Item = T>, q: f64) -> Option<T> {
    let mut v: Vec<T> = values.into_iter().collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    workload::measure::nearest_rank(&v, q)
}

/// The median: the ⌈len / 2⌉-th smallest (the lower of the middle two).
pub fn median<T: Copy + PartialOrd>(values: impl IntoIterator<Item = T>) -> Option<T> {
    quantile(values, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_and_the_quantiles_are_taken_by_nearest_rank() {
        assert_eq!(median([3, 1, 2]), Some(2));
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), Some(2.0));
        assert_eq!(median(Vec::<u64>::new()), None);
        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(hundred.iter().copied(), 0.9), Some(90));
        assert_eq!(quantile(hundred.iter().copied(), 0.0), Some(1));
        assert_eq!(quantile(hundred, 1.0), Some(100));
    }
}
