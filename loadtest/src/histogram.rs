//! A small latency histogram: exact below 64 µs, then 32 buckets per power of two (about 3 %
//! wide), grown only as far as the largest value seen. Histograms add and subtract, so a
//! window of a run is the end's histogram minus the start's.

/// Counts per bucket, indexed by [`bucket`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u32>,
    total: u64,
    sum: u64,
}

const LINEAR: u64 = 64;
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;

/// The bucket of a value.
fn bucket(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= 6
    let sub = (v >> (exp - SUB_BITS)) & (SUB - 1);
    (LINEAR + u64::from(exp - 6) * SUB + sub) as usize
}

/// The smallest value of a bucket.
fn lower(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let exp = (i - LINEAR) / SUB + 6;
    let sub = (i - LINEAR) % SUB;
    (1 << exp) | (sub << (exp - u64::from(SUB_BITS)))
}

impl Histogram {
    pub fn record(&mut self, v: u64) {
        let i = bucket(v);
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] = self.counts[i].saturating_add(1);
        self.total += 1;
        self.sum = self.sum.saturating_add(v);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn mean(&self) -> Option<f64> {
        (self.total > 0).then(|| self.sum as f64 / self.total as f64)
    }

    /// The value below which a fraction `q` (0..=1) of the samples lie, to the bucket's
    /// precision (the bucket's middle).
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                let (lo, hi) = (lower(i), lower(i + 1));
                return Some(lo + (hi - lo) / 2);
            }
        }
        self.counts.len().checked_sub(1).map(lower)
    }

    pub fn add(&mut self, other: &Histogram) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
        self.total += other.total;
        self.sum = self.sum.saturating_add(other.sum);
    }

    /// What `self` has beyond `earlier` (a histogram of the same recorder, taken before).
    pub fn since(&self, earlier: &Histogram) -> Histogram {
        let mut out = self.clone();
        for (a, b) in out.counts.iter_mut().zip(&earlier.counts) {
            *a = a.saturating_sub(*b);
        }
        out.total = out.total.saturating_sub(earlier.total);
        out.sum = out.sum.saturating_sub(earlier.sum);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        for i in 0..900 {
            assert!(lower(i) < lower(i + 1));
            assert_eq!(bucket(lower(i)), i);
            assert_eq!(bucket(lower(i + 1) - 1), i);
            let width = lower(i + 1) - lower(i);
            assert!(width as f64 <= (lower(i) as f64 * 0.032).max(1.0), "bucket {i} is {width} wide");
        }
    }

    #[test]
    fn quantiles_and_windows() {
        let mut h = Histogram::default();
        for v in 1..=1000u64 {
            h.record(v * 100); // 0.1 ms .. 100 ms
        }
        let p50 = h.quantile(0.5).unwrap() as f64;
        let p99 = h.quantile(0.99).unwrap() as f64;
        assert!((p50 - 50_000.0).abs() < 1_600.0, "{p50}");
        assert!((p99 - 99_000.0).abs() < 3_200.0, "{p99}");
        let before = h.clone();
        for _ in 0..10 {
            h.record(7);
        }
        let w = h.since(&before);
        assert_eq!((w.count(), w.quantile(0.99)), (10, Some(7)));
        let mut sum = before.clone();
        sum.add(&w);
        assert_eq!(sum, h);
        assert_eq!(Histogram::default().quantile(0.5), None);
    }
}
