//! A byte-level mutator in the spirit of libFuzzer's: bit flips, interesting values, inserts,
//! deletes, duplicated runs, splices with another corpus entry. Not coverage-guided; the
//! corpus carries the structure, the mutations the surprises.

/// xorshift64*: deterministic from its seed, so a failing run can be replayed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Values that tend to sit on boundaries in length fields and type codes.
const INTERESTING: [u8; 10] = [0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x10, 0x20, 0x40, b'"'];

/// Largest input the mutator makes; the parsers' own limits are far below.
pub const MAX_LEN: usize = 64 * 1024;

/// 1 to 8 mutations of `input`; `other` is another corpus entry to splice from.
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(8) {
        step(rng, &mut out, other);
    }
    out.truncate(MAX_LEN);
    out
}

fn step(rng: &mut Rng, out: &mut Vec<u8>, other: &[u8]) {
    let len = out.len();
    match rng.below(9) {
        0 if len > 0 => {
            let i = rng.below(len);
            out[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            out[i] = INTERESTING[rng.below(INTERESTING.len())];
        }
        2 if len > 0 => {
            let i = rng.below(len);
            out[i] = rng.next() as u8;
        }
        3 => {
            let i = rng.below(len + 1);
            let n = 1 + rng.below(16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            out.splice(i..i, bytes);
        }
        4 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(32));
            out.drain(i..i + n);
        }
        5 if len > 0 => {
            // Repeat a run: long strings, nested brackets, repeated attributes.
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(64));
            let run = out[i..i + n].to_vec();
            for _ in 0..1 + rng.below(8) {
                out.splice(i..i, run.iter().copied());
            }
        }
        6 if !other.is_empty() => {
            // Splice: our head, the other's tail.
            let cut = rng.below(len + 1);
            let from = rng.below(other.len());
            out.truncate(cut);
            out.extend_from_slice(&other[from..]);
        }
        7 if len > 0 => out.truncate(rng.below(len)),
        8 if len >= 2 => {
            // A 16-bit field set to a boundary value (lengths in STUN, RTP, DTLS headers).
            let i = rng.below(len - 1);
            let v: u16 = [0, 1, 0xffff, 0x7fff, 0x8000, len as u16, (len as u16).wrapping_add(1)][rng.below(7)];
            out[i..i + 2].copy_from_slice(&v.to_be_bytes());
        }
        _ => out.push(rng.next() as u8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_bounded_and_vary() {
        let mut rng = Rng::new(7);
        let seed = b"{\"type\":\"ping\"}".to_vec();
        let outs: Vec<Vec<u8>> = (0..200).map(|_| mutate(&mut rng, &seed, b"xyz")).collect();
        assert!(outs.iter().all(|o| o.len() <= MAX_LEN));
        assert!(outs.iter().filter(|o| **o != seed).count() > 150);
        assert!(mutate(&mut Rng::new(1), &[], &[]).len() <= MAX_LEN);
    }
}
