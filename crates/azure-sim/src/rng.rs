//! Deterministic randomness for the simulator: a SplitMix64 generator and stable hashes, so the
//! same seed always gives the same estate, costs, metrics and faults on every platform.

use uuid::Uuid;

/// The SplitMix64 generator (Steele, Lea and Flood): tiny, fast and good enough for test data.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose whole output is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// A float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        unit(self.next_u64())
    }

    /// An integer in `[0, n)` (`0` when `n` is `0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// A float in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// One element of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        // Callers only pass constant, non-empty tables.
        items[self.below(items.len() as u64) as usize]
    }
}

/// The SplitMix64 finaliser: a good 64-bit mixing function.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable hash of a string (FNV-1a, then mixed); unlike `std`'s hasher it never changes.
pub fn hash_str(s: &str) -> u64 {
    hash_bytes(s.bytes())
}

/// [`hash_str`] over any byte sequence (e.g. a string lower-cased on the fly).
pub fn hash_bytes(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let fnv = bytes.into_iter().fold(0xCBF2_9CE4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    });
    mix(fnv)
}

/// Combines two hashes into one.
pub fn hash2(a: u64, b: u64) -> u64 {
    mix(a ^ mix(b.wrapping_add(0x9E37_79B9_7F4A_7C15)))
}

/// Maps 64 random bits to a float in `[0, 1)`.
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// A deterministic, version-4-shaped UUID named by `seed`, a label and an index.
pub fn uuid_from(seed: u64, label: &str, index: u64) -> Uuid {
    let h1 = hash2(hash2(seed, hash_str(label)), index);
    let h2 = mix(h1 ^ 0xA5A5_A5A5_A5A5_A5A5);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&h1.to_be_bytes());
    bytes[8..].copy_from_slice(&h2.to_be_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let a: Vec<u64> = (0..5)
            .scan(SplitMix64::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..5)
            .scan(SplitMix64::new(7), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a[0], a[1]);
    }

    #[test]
    fn uuids_are_stable_and_version_4() {
        let id = uuid_from(42, "tenant", 0);
        assert_eq!(id, uuid_from(42, "tenant", 0));
        assert_ne!(id, uuid_from(42, "tenant", 1));
        assert_eq!(id.get_version_num(), 4);
    }

    #[test]
    fn unit_stays_below_one() {
        assert!(unit(u64::MAX) < 1.0);
        assert_eq!(unit(0), 0.0);
    }
}
