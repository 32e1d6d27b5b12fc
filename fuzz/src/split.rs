//! How an input is cut into reads: its first byte seeds the piece lengths, so the fuzzer
//! explores the splits as it explores the bytes.

/// The seed byte and the payload; `None` for an empty input.
pub fn seed_and_payload(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(&seed, rest)| (seed, rest))
}

/// `payload` cut into pieces of 1 to 2^(seed & 7) bytes (a xorshift of `seed` picks each):
/// one byte a read when `seed & 7` is 0.
pub fn pieces(seed: u8, payload: &[u8]) -> Vec<&[u8]> {
    let widest = 1usize << (seed & 7);
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    let mut out = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (1 + state as usize % widest).min(rest.len());
        let (piece, tail) = rest.split_at(n);
        out.push(piece);
        rest = tail;
    }
    out
}
