//! A fixed amount of plain work (FNV-1a over 4 KiB, then small allocations
//! and copies), not toolgate's code. Every micro-benchmark binary measures it beside its own steps, and
//! `scripts/bench-check.sh` divides each step by the calibration of the same
//! process and minute, so a slower machine or a busy minute cancels out.

/// The input: 4 KiB of fixed bytes.
pub fn data() -> Vec<u8> {
    (0..4096u32).map(|i| (i * 31 % 251) as u8).collect()
}

/// The work: FNV-1a of `data`, then `data` copied into 64 small
/// allocations, sorted and freed. The steps it calibrates allocate and copy
/// as much as they compute, and on a shared machine those slow down more
/// than pure arithmetic does (a busy neighbour on the same core's caches).
pub fn work(data: &[u8]) -> u64 {
    let mut chunks: Vec<Vec<u8>> = data.chunks(64).map(<[u8]>::to_vec).collect();
    chunks.sort_unstable();
    chunks
        .iter()
        .flatten()
        .fold(fnv(data), |h, &byte| h.rotate_left(1) ^ u64::from(byte))
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &byte| {
        (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_work_is_fixed() {
        assert_eq!(super::data().len(), 4096);
        assert_eq!(super::fnv(&[]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::fnv(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(super::work(&[]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::work(&super::data()), super::work(&super::data()));
    }
}
