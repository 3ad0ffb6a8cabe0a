//! Bitcoin's consensus encoding: little-endian integers, CompactSize counts and lengths,
//! and the bounded decoding of untrusted bytes.
//!
//! Decoding never trusts a claimed count or length: a count must fit in the bytes that
//! remain (each item takes at least [`Decode::MIN_ENCODED_SIZE`] bytes), and a vector's
//! initial capacity is capped at [`MAX_ALLOCATION`] bytes, so a tiny message claiming a
//! billion items fails at once without allocating.

use crate::hash::Hash256;

/// Largest initial allocation (in bytes) a single claimed count may cause while decoding;
/// vectors grow past it only as real items are read.
pub const MAX_ALLOCATION: usize = 4_000_000;

/// Largest count or length a CompactSize may claim, as Bitcoin Core's `MAX_SIZE`.
pub const MAX_COMPACT_SIZE: u64 = 0x0200_0000;

/// A value with a consensus encoding.
pub trait Encode {
    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);
}

/// A value that can be decoded from untrusted bytes.
pub trait Decode: Sized {
    /// The fewest bytes one encoded value can take; bounds how many items a count may claim.
    const MIN_ENCODED_SIZE: usize = 1;

    /// Reads one value from `r`, advancing it past the value.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

/// Why decoding failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    /// The input ended inside a value.
    #[error("needs {needed} bytes but only {available} remain")]
    UnexpectedEnd {
        /// Bytes the value needed.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// A CompactSize used a longer form than its value needs.
    #[error("CompactSize {value} is not in its shortest form")]
    NonCanonicalCompactSize {
        /// The value that was encoded.
        value: u64,
    },
    /// A count or length is larger than any valid message could hold.
    #[error("claimed size {claimed} exceeds the limit {limit}")]
    TooLarge {
        /// The claimed count or length.
        claimed: u64,
        /// The largest accepted.
        limit: u64,
    },
    /// A count claims more items than the remaining bytes could hold.
    #[error(
        "claims {count} items of at least {min_size} bytes each but only {remaining} bytes remain"
    )]
    CountExceedsInput {
        /// The claimed count.
        count: u64,
        /// The fewest bytes one item takes.
        min_size: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// Bytes were left over after the value.
    #[error("{count} unexpected trailing bytes")]
    TrailingBytes {
        /// How many bytes were left.
        count: usize,
    },
}

/// A decoding failure: what was being decoded, where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode {what} at byte {offset}: {kind}")]
pub struct DecodeError {
    /// The field or value being decoded, e.g. `"tx input count"`.
    pub what: &'static str,
    /// Byte offset in the input where the failing read started.
    pub offset: usize,
    /// The reason.
    pub kind: DecodeErrorKind,
}

/// A cursor over a byte slice that knows its offset, for error messages.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, offset: 0 }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.offset
    }

    /// Whether every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// An error of `kind` while decoding `what` at the current offset.
    pub fn error(&self, what: &'static str, kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            what,
            offset: self.offset,
            kind,
        }
    }

    /// Fails with [`DecodeErrorKind::TrailingBytes`] unless every byte was consumed.
    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(self.error(what, DecodeErrorKind::TrailingBytes { count })),
        }
    }

    /// The next `n` bytes.
    pub fn read_bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let available = self.remaining();
        if n > available {
            return Err(self.error(
                what,
                DecodeErrorKind::UnexpectedEnd {
                    needed: n,
                    available,
                },
            ));
        }
        let bytes = &self.data[self.offset..self.offset + n];
        self.offset += n;
        Ok(bytes)
    }

    /// The next `N` bytes as an array.
    pub fn read_array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.read_bytes(N, what)?);
        Ok(out)
    }

    /// One byte.
    pub fn read_u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.read_array::<1>(what)?[0])
    }

    /// A little-endian `u16`.
    pub fn read_u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.read_array(what)?))
    }

    /// A little-endian `u32`.
    pub fn read_u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.read_array(what)?))
    }

    /// A little-endian `i32`.
    pub fn read_i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_le_bytes(self.read_array(what)?))
    }

    /// A little-endian `u64`.
    pub fn read_u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.read_array(what)?))
    }

    /// A CompactSize in its shortest form (any value up to `u64::MAX`).
    pub fn read_compact_size(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let start = self.clone();
        let (value, min) = match self.read_u8(what)? {
            n @ 0..=0xfc => return Ok(u64::from(n)),
            0xfd => (u64::from(self.read_u16(what)?), 0xfd),
            0xfe => (u64::from(self.read_u32(what)?), 0x1_0000),
            0xff => (self.read_u64(what)?, 0x1_0000_0000),
        };
        if value < min {
            return Err(start.error(what, DecodeErrorKind::NonCanonicalCompactSize { value }));
        }
        Ok(value)
    }

    /// A CompactSize count of items that take at least `min_item_size` bytes each, checked
    /// against [`MAX_COMPACT_SIZE`] and against the bytes that remain.
    pub fn read_count(
        &mut self,
        what: &'static str,
        min_item_size: usize,
    ) -> Result<usize, DecodeError> {
        let start = self.clone();
        let count = self.read_compact_size(what)?;
        if count > MAX_COMPACT_SIZE {
            return Err(start.error(
                what,
                DecodeErrorKind::TooLarge {
                    claimed: count,
                    limit: MAX_COMPACT_SIZE,
                },
            ));
        }
        let remaining = self.remaining();
        // count <= 2^25, so the product cannot overflow a u64.
        if count * min_item_size as u64 > remaining as u64 {
            return Err(start.error(
                what,
                DecodeErrorKind::CountExceedsInput {
                    count,
                    min_size: min_item_size,
                    remaining,
                },
            ));
        }
        Ok(count as usize)
    }

    /// A CompactSize length followed by that many bytes (a script, a message string).
    pub fn read_var_bytes(&mut self, what: &'static str) -> Result<Vec<u8>, DecodeError> {
        let len = self.read_count(what, 1)?;
        Ok(self.read_bytes(len, what)?.to_vec())
    }

    /// A CompactSize count followed by that many `T`.
    pub fn read_vec<T: Decode>(&mut self, what: &'static str) -> Result<Vec<T>, DecodeError> {
        let count = self.read_count(what, T::MIN_ENCODED_SIZE.max(1))?;
        let cap = count.min(MAX_ALLOCATION / std::mem::size_of::<T>().max(1));
        let mut items = Vec::with_capacity(cap);
        for _ in 0..count {
            items.push(T::decode(self)?);
        }
        Ok(items)
    }
}

/// Appends `n` as a CompactSize.
pub fn write_compact_size(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(n as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// The number of bytes the CompactSize of `n` takes.
pub fn compact_size_len(n: u64) -> usize {
    match n {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Appends a CompactSize length and the bytes.
pub fn write_var_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_compact_size(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a CompactSize count and each item.
pub fn write_vec<T: Encode>(out: &mut Vec<u8>, items: &[T]) {
    write_compact_size(out, items.len() as u64);
    for item in items {
        item.encode(out);
    }
}

/// The consensus encoding of `value`.
pub fn serialize<T: Encode + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.encode(&mut out);
    out
}

/// Decodes exactly one `T` from `bytes`; leftover bytes are an error.
pub fn deserialize<T: Decode>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut r = Reader::new(bytes);
    let value = T::decode(&mut r)?;
    if r.remaining() == 0 {
        // The name is only for the error: finding it in the type's path cost the chain's
        // writer a percent of its time (every coin it reads is deserialized).
        return Ok(value);
    }
    // "alloc::vec::Vec<node_chain::hash::Hash256>" reads as "Vec".
    let path = std::any::type_name::<T>()
        .split('<')
        .next()
        .unwrap_or_default();
    r.finish(path.rsplit("::").next().unwrap_or(path))?;
    Ok(value)
}

macro_rules! int_codec {
    ($($t:ty => $read:ident),*) => {$(
        impl Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
        impl Decode for $t {
            const MIN_ENCODED_SIZE: usize = std::mem::size_of::<$t>();
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                r.$read(stringify!($t))
            }
        }
    )*};
}
int_codec!(u8 => read_u8, u16 => read_u16, u32 => read_u32, i32 => read_i32, u64 => read_u64);

impl<const N: usize> Encode for [u8; N] {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl<const N: usize> Decode for [u8; N] {
    const MIN_ENCODED_SIZE: usize = N;
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_array("byte array")
    }
}

impl Encode for Hash256 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for Hash256 {
    const MIN_ENCODED_SIZE: usize = 32;
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Hash256(r.read_array("hash")?))
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        write_vec(out, self);
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_vec("vector")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compact(bytes: &[u8]) -> Result<u64, DecodeError> {
        let mut r = Reader::new(bytes);
        let n = r.read_compact_size("n")?;
        r.finish("n")?;
        Ok(n)
    }

    #[test]
    fn compact_size_round_trips_at_every_boundary() {
        for n in [
            0,
            1,
            0xfc,
            0xfd,
            0xffff,
            0x1_0000,
            0xffff_ffff,
            0x1_0000_0000,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            write_compact_size(&mut out, n);
            assert_eq!(out.len(), compact_size_len(n));
            assert_eq!(compact(&out).unwrap(), n);
        }
    }

    #[test]
    fn non_canonical_compact_sizes_are_rejected() {
        for bytes in [
            &[0xfd, 0xfc, 0x00][..],
            &[0xfe, 0xff, 0xff, 0x00, 0x00],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0],
        ] {
            let err = compact(bytes).unwrap_err();
            assert!(
                matches!(err.kind, DecodeErrorKind::NonCanonicalCompactSize { .. }),
                "{err}"
            );
            assert_eq!(err.offset, 0);
        }
    }

    #[test]
    fn truncated_input_reports_offset_and_need() {
        let mut r = Reader::new(&[1, 2, 3]);
        r.read_u8("a").unwrap();
        let err = r.read_u32("version").unwrap_err();
        assert_eq!(err.offset, 1);
        assert_eq!(
            err.kind,
            DecodeErrorKind::UnexpectedEnd {
                needed: 4,
                available: 2
            }
        );
        assert_eq!(
            err.to_string(),
            "cannot decode version at byte 1: needs 4 bytes but only 2 remain"
        );
    }

    #[test]
    fn huge_counts_fail_before_allocating() {
        // Claims 2^25 hashes with 4 bytes of input: must fail on the count alone.
        let bytes = [0xfe, 0x00, 0x00, 0x00, 0x02, 1, 2, 3, 4];
        let err = deserialize::<Vec<Hash256>>(&bytes).unwrap_err();
        assert!(matches!(
            err.kind,
            DecodeErrorKind::CountExceedsInput {
                count: 0x0200_0000,
                ..
            }
        ));
        let bytes = [0xff, 0, 0, 0, 0, 0, 0, 0, 0x80];
        let err = deserialize::<Vec<u8>>(&bytes).unwrap_err();
        assert!(matches!(err.kind, DecodeErrorKind::TooLarge { .. }));
    }

    #[test]
    fn vectors_and_var_bytes_round_trip() {
        let hashes = vec![Hash256([1; 32]), Hash256([2; 32])];
        assert_eq!(
            deserialize::<Vec<Hash256>>(&serialize(&hashes)).unwrap(),
            hashes
        );
        let mut out = Vec::new();
        write_var_bytes(&mut out, b"abc");
        assert_eq!(out, b"\x03abc");
        let mut r = Reader::new(&out);
        assert_eq!(r.read_var_bytes("script").unwrap(), b"abc");
        assert!(r.is_empty());
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let err = deserialize::<u32>(&[1, 0, 0, 0, 9]).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::TrailingBytes { count: 1 });
        assert_eq!(err.what, "u32");
        assert_eq!(err.offset, 4);
        assert_eq!(deserialize::<Vec<u8>>(&[0, 1]).unwrap_err().what, "Vec");
    }
}
