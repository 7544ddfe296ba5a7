//! Column encoding of samples and summaries into blobs.
//!
//! A blob is a format byte, the number of entries `n` (varint), then one column after the
//! other. A column is a header byte and its values:
//! - header bits 0-3, the mode: 0 no value present (every entry None), 1 one value for all
//!   (`v`), 2 an arithmetic run (`v0`, `step`), 3 deltas (`v0`, then each value minus the one
//!   before, wrapping);
//! - bit 4: some entries are None: a bitmap of `n` bits (entry present = 1) follows the
//!   header, and only present entries have values;
//! - bit 5 (float columns): values are `f64::to_bits` instead of millionths.
//!
//! Integers are zigzag LEB128 varints. Floats are stored as millionths (`(x * 1e6).round()`)
//! when that gives the identical `f64` back, which every figure of a record does (they are
//! rounded to 6 decimals), else as their bits: decoding always gives back the exact value.
//! A steady flow's minute is then a few bytes for each varying column (bytes, jitter, DF)
//! and one to three bytes for each constant one.
//!
//! Decoding never panics and never allocates more than the blob can hold: any
//! inconsistency is a [`Bad`], reported as a corrupt blob naming the file.

/// Why a blob does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bad(pub &'static str);

/// The most entries a blob may claim (a recent chunk holds 1024 flows; a minute ~60
/// records): bounds what a corrupt count can make the decoder allocate.
pub(crate) const MAX_ENTRIES: usize = 1 << 20;

const MODE_NONE: u8 = 0;
const MODE_CONST: u8 = 1;
const MODE_ARITH: u8 = 2;
const MODE_DELTA: u8 = 3;
const HAS_NULLS: u8 = 0x10;
const FLOAT_BITS: u8 = 0x20;

/// Appends an unsigned LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// A cursor over a blob.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn byte(&mut self) -> Result<u8, Bad> {
        let b = *self.buf.get(self.pos).ok_or(Bad("blob ends early"))?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, Bad> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Bad("varint longer than 64 bits"))
    }

    fn signed(&mut self) -> Result<i64, Bad> {
        self.varint().map(unzigzag)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Bad> {
        let end = self.pos.checked_add(n).ok_or(Bad("blob ends early"))?;
        let s = self.buf.get(self.pos..end).ok_or(Bad("blob ends early"))?;
        self.pos = end;
        Ok(s)
    }

    /// Bytes left.
    pub(crate) fn left(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The entry count of a blob, bounded.
    pub(crate) fn count(&mut self) -> Result<usize, Bad> {
        let n = self.varint()?;
        if n > MAX_ENTRIES as u64 {
            return Err(Bad("entry count too large"));
        }
        Ok(n as usize)
    }
}

/// Encodes a column of integers (None: absent).
pub(crate) fn put_ints(out: &mut Vec<u8>, values: &[Option<i64>]) {
    put_column(out, values, 0);
}

fn put_column(out: &mut Vec<u8>, values: &[Option<i64>], flags: u8) {
    let present: Vec<i64> = values.iter().flatten().copied().collect();
    if present.is_empty() {
        out.push(MODE_NONE);
        return;
    }
    let nulls = present.len() < values.len();
    let mode = if present.iter().all(|&v| v == present[0]) {
        MODE_CONST
    } else if present.len() >= 2 && {
        let step = present[1].wrapping_sub(present[0]);
        present.windows(2).all(|w| w[1].wrapping_sub(w[0]) == step)
    } {
        MODE_ARITH
    } else {
        MODE_DELTA
    };
    out.push(mode | flags | if nulls { HAS_NULLS } else { 0 });
    if nulls {
        let mut bits = vec![0u8; values.len().div_ceil(8)];
        for (i, v) in values.iter().enumerate() {
            if v.is_some() {
                bits[i / 8] |= 1 << (i % 8);
            }
        }
        out.extend_from_slice(&bits);
    }
    put_varint(out, zigzag(present[0]));
    match mode {
        MODE_CONST => {}
        MODE_ARITH => put_varint(out, zigzag(present[1].wrapping_sub(present[0]))),
        _ => {
            for w in present.windows(2) {
                put_varint(out, zigzag(w[1].wrapping_sub(w[0])));
            }
        }
    }
}

/// Decodes a column of `n` integers, and whether its header had `FLOAT_BITS`.
fn get_column(r: &mut Reader<'_>, n: usize) -> Result<(Vec<Option<i64>>, bool), Bad> {
    let header = r.byte()?;
    if header & !(0x0f | HAS_NULLS | FLOAT_BITS) != 0 {
        return Err(Bad("unknown column header"));
    }
    let float_bits = header & FLOAT_BITS != 0;
    let mode = header & 0x0f;
    if mode == MODE_NONE {
        return Ok((vec![None; n], float_bits));
    }
    if n == 0 {
        return Err(Bad("values in an empty column"));
    }
    let present_map: Option<&[u8]> = if header & HAS_NULLS != 0 {
        Some(r.take(n.div_ceil(8))?)
    } else {
        None
    };
    let is_present = |i: usize| present_map.is_none_or(|m| m[i / 8] & (1 << (i % 8)) != 0);
    let count = (0..n).filter(|&i| is_present(i)).count();
    if count == 0 {
        return Err(Bad("a bitmap with no entry present"));
    }
    let first = r.signed()?;
    let mut present = Vec::with_capacity(count);
    match mode {
        MODE_CONST => present.resize(count, first),
        MODE_ARITH => {
            let step = r.signed()?;
            let mut v = first;
            for _ in 0..count {
                present.push(v);
                v = v.wrapping_add(step);
            }
        }
        MODE_DELTA => {
            // Each delta is at least one byte: a count the blob cannot hold is corrupt, found
            // before anything is allocated for it.
            if count - 1 > r.left() {
                return Err(Bad("blob ends early"));
            }
            present.push(first);
            let mut v = first;
            for _ in 1..count {
                v = v.wrapping_add(r.signed()?);
                present.push(v);
            }
        }
        _ => return Err(Bad("unknown column mode")),
    }
    let mut values = Vec::with_capacity(n);
    let mut it = present.into_iter();
    for i in 0..n {
        values.push(if is_present(i) { it.next() } else { None });
    }
    Ok((values, float_bits))
}

/// Decodes a column of `n` integers that may hold None.
pub(crate) fn get_ints(r: &mut Reader<'_>, n: usize) -> Result<Vec<Option<i64>>, Bad> {
    match get_column(r, n)? {
        (v, false) => Ok(v),
        (_, true) => Err(Bad("float column where integers belong")),
    }
}

/// Decodes a column of `n` integers that has no None.
pub(crate) fn get_full(r: &mut Reader<'_>, n: usize) -> Result<Vec<i64>, Bad> {
    get_ints(r, n)?
        .into_iter()
        .map(|v| v.ok_or(Bad("a missing value in a column that has none")))
        .collect()
}

/// millionths of `x`, when they give `x` back exactly.
fn exact_micros(x: f64) -> Option<i64> {
    let k = (x * 1e6).round();
    // |k| < 2^53: every integer there is an exact f64, and `as` does not saturate.
    if k.is_nan() || k.abs() >= 9_007_199_254_740_992.0 {
        return None;
    }
    let k = k as i64;
    ((k as f64 / 1e6).to_bits() == x.to_bits()).then_some(k)
}

/// Encodes a column of floats, exactly (see the module doc).
pub(crate) fn put_floats(out: &mut Vec<u8>, values: &[Option<f64>]) {
    let micros: Option<Vec<Option<i64>>> = values
        .iter()
        .map(|v| match v {
            None => Some(None),
            Some(x) => exact_micros(*x).map(Some),
        })
        .collect();
    match micros {
        Some(m) => put_column(out, &m, 0),
        None => {
            let bits: Vec<Option<i64>> = values
                .iter()
                .map(|v| v.map(|x| x.to_bits() as i64))
                .collect();
            put_column(out, &bits, FLOAT_BITS)
        }
    }
}

/// Decodes a column of `n` floats.
pub(crate) fn get_floats(r: &mut Reader<'_>, n: usize) -> Result<Vec<Option<f64>>, Bad> {
    let (values, bits) = get_column(r, n)?;
    Ok(values
        .into_iter()
        .map(|v| {
            v.map(|k| {
                if bits {
                    f64::from_bits(k as u64)
                } else {
                    k as f64 / 1e6
                }
            })
        })
        .collect())
}

/// Decodes a column of `n` floats that has no None.
pub(crate) fn get_full_floats(r: &mut Reader<'_>, n: usize) -> Result<Vec<f64>, Bad> {
    get_floats(r, n)?
        .into_iter()
        .map(|v| v.ok_or(Bad("a missing value in a column that has none")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip_ints(values: &[Option<i64>]) -> Vec<Option<i64>> {
        let mut out = Vec::new();
        put_ints(&mut out, values);
        let mut r = Reader::new(&out);
        let back = get_ints(&mut r, values.len()).expect("decodes");
        assert_eq!(r.left(), 0, "column fully read");
        back
    }

    /// A constant column is its header and one value; an arithmetic run two values.
    #[test]
    fn constant_and_arithmetic_columns_are_small() {
        let mut out = Vec::new();
        put_ints(&mut out, &[Some(90); 60]);
        assert_eq!(out, vec![MODE_CONST, 180, 1]);
        out.clear();
        let times: Vec<Option<i64>> = (0..60).map(|i| Some(i * 1_000_000_000)).collect();
        put_ints(&mut out, &times);
        assert_eq!(out[0], MODE_ARITH);
        assert_eq!(roundtrip_ints(&times), times);
        out.clear();
        put_ints(&mut out, &[None; 60]);
        assert_eq!(out, vec![MODE_NONE]);
    }

    proptest! {
        /// Any column of integers, with any Nones, decodes to itself.
        #[test]
        fn ints_round_trip(values in proptest::collection::vec(proptest::option::of(any::<i64>()), 0..200)) {
            prop_assert_eq!(roundtrip_ints(&values), values);
        }

        /// Any floats, NaN and -0.0 included, decode to the same bits.
        #[test]
        fn floats_round_trip(values in proptest::collection::vec(proptest::option::of(any::<f64>()), 0..100),
                             micro in proptest::collection::vec(-10_000_000_000i64..10_000_000_000, 0..100)) {
            for values in [values, micro.iter().map(|&k| Some(k as f64 / 1e6)).collect()] {
                let mut out = Vec::new();
                put_floats(&mut out, &values);
                let back = get_floats(&mut Reader::new(&out), values.len()).expect("decodes");
                let bits = |v: &[Option<f64>]| v.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>();
                prop_assert_eq!(bits(&back), bits(&values));
            }
        }

        /// Garbage never panics the decoder.
        #[test]
        fn garbage_is_an_error_or_a_value(bytes in proptest::collection::vec(any::<u8>(), 0..64), n in 0usize..100_000) {
            let _ = get_floats(&mut Reader::new(&bytes), n);
            let _ = get_ints(&mut Reader::new(&bytes), n);
        }
    }
}
