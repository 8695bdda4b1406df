//! A mergeable quantile sketch for latencies in microseconds (the DDSketch idea): values are
//! counted in logarithmic bins whose bounds grow by a factor of [`GAMMA`], so any quantile read
//! back is within [`RELATIVE_ERROR`] (1%) of the true nearest-rank value, and the sketch's size
//! depends on the spread of the values (at most ~1,100 bins over the whole `u32` range, a few
//! dozen for a minute of one Worker's requests), never on how many were counted. Pure.

/// The largest relative difference between a quantile read back and the true value.
pub const RELATIVE_ERROR: f64 = 0.01;
/// Ratio between the upper and lower bound of one bin: (1 + α) / (1 − α).
const GAMMA: f64 = (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR);

/// Counts per bin, sparse and sorted by bin; zeros counted apart (log(0) has no bin).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sketch {
    zeros: u64,
    bins: Vec<(u16, u32)>,
}

/// The bin of `value` (> 0): the `i` with γ^(i−1) < value ≤ γ^i.
fn bin(value: u64) -> u16 {
    let index = ((value as f64).ln() / GAMMA.ln()).ceil();
    index.clamp(0.0, f64::from(u16::MAX)) as u16
}

/// The value reported for bin `i`: the point whose relative distance to both bounds is α.
fn representative(i: u16) -> f64 {
    2.0 * GAMMA.powi(i32::from(i)) / (GAMMA + 1.0)
}

impl Sketch {
    pub fn add(&mut self, value: u64) {
        self.add_count(value, 1);
    }

    fn add_count(&mut self, value: u64, count: u32) {
        if value == 0 {
            self.zeros += u64::from(count);
            return;
        }
        self.add_bin(bin(value), count);
    }

    fn add_bin(&mut self, index: u16, count: u32) {
        match self.bins.binary_search_by_key(&index, |(i, _)| *i) {
            Ok(at) => {
                if let Some((_, n)) = self.bins.get_mut(at) {
                    *n = n.saturating_add(count);
                }
            }
            Err(at) => self.bins.insert(at, (index, count)),
        }
    }

    /// Adds every value `other` counted.
    pub fn merge(&mut self, other: &Sketch) {
        self.zeros += other.zeros;
        for (index, count) in &other.bins {
            self.add_bin(*index, *count);
        }
    }

    /// How many values were counted.
    pub fn count(&self) -> u64 {
        self.zeros + self.bins.iter().map(|(_, n)| u64::from(*n)).sum::<u64>()
    }

    /// The nearest-rank `q` quantile (0 < q ≤ 1), within [`RELATIVE_ERROR`] of the true value
    /// (exact for 0); 0 when nothing was counted.
    pub fn quantile(&self, q: f64) -> f64 {
        let total = self.count();
        if total == 0 {
            return 0.0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        if rank <= self.zeros {
            return 0.0;
        }
        let mut seen = self.zeros;
        for (index, count) in &self.bins {
            seen += u64::from(*count);
            if seen >= rank {
                return representative(*index);
            }
        }
        self.bins.last().map_or(0.0, |(i, _)| representative(*i))
    }

    /// Bytes the sketch's bins take on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.bins.capacity() * std::mem::size_of::<(u16, u32)>()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The nearest-rank quantile of `values`, as the raw log answers it.
    fn exact(values: &[u64], q: f64) -> f64 {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let index = ((q * sorted.len() as f64).ceil() as usize).saturating_sub(1);
        sorted.get(index).copied().unwrap_or(0) as f64
    }

    fn within(read: f64, truth: f64) -> bool {
        (read - truth).abs() <= (RELATIVE_ERROR + 1e-9) * truth
    }

    #[test]
    fn empty_and_zero_values() {
        let mut sketch = Sketch::default();
        assert_eq!(sketch.quantile(0.5), 0.0);
        sketch.add(0);
        sketch.add(0);
        sketch.add(1_000);
        assert_eq!(sketch.quantile(0.5), 0.0);
        assert!(within(sketch.quantile(0.99), 1_000.0));
        assert_eq!(sketch.count(), 3);
    }

    #[test]
    fn size_follows_the_spread_not_the_count() {
        let mut sketch = Sketch::default();
        for n in 0..100_000u64 {
            sketch.add(200 + n % 300); // 200–499 µs: ~46 bins
        }
        assert!(sketch.bins.len() < 60, "{} bins", sketch.bins.len());
        let mut wide = Sketch::default();
        for shift in 0..32 {
            wide.add(1u64 << shift);
            wide.add(u64::from(u32::MAX));
        }
        assert!(wide.bins.len() <= 33);
        assert!(within(wide.quantile(1.0), f64::from(u32::MAX)));
    }

    proptest! {
        #[test]
        fn quantiles_stay_within_the_relative_error(
            values in prop::collection::vec(0u64..5_000_000, 1..400),
            q in prop::sample::select(vec![0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0]),
        ) {
            let mut sketch = Sketch::default();
            values.iter().for_each(|v| sketch.add(*v));
            let (read, truth) = (sketch.quantile(q), exact(&values, q));
            prop_assert!(within(read, truth), "q{q}: {read} vs {truth}");
        }

        #[test]
        fn merging_equals_counting_everything_in_one(
            a in prop::collection::vec(0u64..100_000, 0..200),
            b in prop::collection::vec(0u64..100_000, 0..200),
        ) {
            let (mut left, mut right, mut both) =
                (Sketch::default(), Sketch::default(), Sketch::default());
            a.iter().for_each(|v| { left.add(*v); both.add(*v) });
            b.iter().for_each(|v| { right.add(*v); both.add(*v) });
            left.merge(&right);
            prop_assert_eq!(left, both);
        }
    }
}
