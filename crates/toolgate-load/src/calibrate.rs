//! A fixed amount of plain CPU work (FNV-1a over 4 KiB), not toolgate's
//! code. Every micro-benchmark binary measures it beside its own steps, and
//! `scripts/bench-check.sh` divides each step by the calibration of the same
//! process and minute, so a slower machine or a busy minute cancels out.

/// The input: 4 KiB of fixed bytes.
pub fn data() -> Vec<u8> {
    (0..4096u32).map(|i| (i * 31 % 251) as u8).collect()
}

/// The work: FNV-1a of `data`.
pub fn work(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &byte| {
        (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_work_is_fixed() {
        assert_eq!(super::data().len(), 4096);
        assert_eq!(super::work(&[]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::work(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
