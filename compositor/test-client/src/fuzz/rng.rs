//! The fuzzer's random numbers: a SplitMix64 generator, seeded per client connection from the
//! run's seed, the client's index and its generation (see [`Rng::for_client`]), so that one
//! client's choices depend on nothing but those three numbers and what the compositor answers.
//! Every other fuzz module draws from it through the helpers here.

/// SplitMix64 (Steele, Lea, Flood 2014): 64 bits of state, one add and a mix per draw.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The generator of client `index` in its `generation`-th connection of a run seeded `seed`.
    pub fn for_client(seed: u64, index: u32, generation: u64) -> Self {
        let mut mix = Rng::new(seed ^ 0x5eed_0f00_d5ee_d000);
        let a = mix.next_u64();
        let b = Rng::new(a ^ u64::from(index).wrapping_mul(0x9e37_79b9_7f4a_7c15)).next_u64();
        Rng::new(b ^ generation.wrapping_mul(0xd1b5_4a32_d192_ed03))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Lemire's multiply-shift; the bias is below 2^-32 for the ranges used here.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `low..=high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        low + self.below(high - low + 1)
    }

    /// An index into a slice of `len` elements (`len` > 0).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// True once in `n` draws.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.index(items.len()))
        }
    }

    pub fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn clients_and_generations_get_their_own_streams() {
        let a = Rng::for_client(1, 0, 0).next_u64();
        assert_eq!(a, Rng::for_client(1, 0, 0).next_u64());
        assert_ne!(a, Rng::for_client(1, 1, 0).next_u64());
        assert_ne!(a, Rng::for_client(1, 0, 1).next_u64());
        assert_ne!(a, Rng::for_client(2, 0, 0).next_u64());
    }

    #[test]
    fn ranges_stay_inside() {
        let mut rng = Rng::new(7);
        for _ in 0..10_000 {
            let v = rng.range(3, 9);
            assert!((3..=9).contains(&v));
            assert!(rng.below(5) < 5);
        }
        assert_eq!(rng.below(0), 0);
    }
}
