//! 160-bit node ids, the XOR metric and contacts, as in the Python package (ids are 20 raw
//! bytes, compared as big-endian integers).

use std::fmt;
use std::net::SocketAddr;

use rand::Rng;

/// Number of bits in an id; also the number of k-buckets.
pub(crate) const ID_BITS: usize = 160;

/// A 160-bit Kademlia node id (or a key: the Python package stores values under the SHA-1
/// digest of the key, which has the same shape).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub [u8; 20]);

/// The XOR distance between two ids; ordering is the big-endian integer order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Distance(pub [u8; 20]);

/// A node known by id and UDP address. Its TCP data port is the same port number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Contact {
    /// The node's id.
    pub id: NodeId,
    /// Where it answers discovery datagrams (UDP) and data connections (TCP).
    pub addr: SocketAddr,
}

impl NodeId {
    /// A uniformly random id, as the Python package picks when none is given.
    pub fn random() -> Self {
        NodeId(rand::thread_rng().gen())
    }

    /// The id held in `bytes`, or `None` unless it is exactly 20 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(NodeId)
    }

    /// The XOR distance to `other`.
    pub fn distance(&self, other: &NodeId) -> Distance {
        let mut out = [0u8; 20];
        for (o, (a, b)) in out.iter_mut().zip(self.0.iter().zip(other.0.iter())) {
            *o = a ^ b;
        }
        Distance(out)
    }

    /// The bucket `other` falls in as seen from `self`: the index of the highest set bit of
    /// the distance (0 = closest half-open range [1, 2), 159 = farthest). `None` for `self`.
    pub(crate) fn bucket_index(&self, other: &NodeId) -> Option<usize> {
        let distance = self.distance(other);
        let leading = distance.leading_zeros();
        (leading < ID_BITS).then(|| ID_BITS - 1 - leading)
    }

    /// A random id whose distance from `self` falls in bucket `index`: bit `index` set,
    /// higher bits clear, lower bits random.
    pub(crate) fn random_in_bucket(&self, index: usize) -> NodeId {
        let index = index.min(ID_BITS - 1);
        let mut distance: [u8; 20] = rand::thread_rng().gen();
        for bit in index..ID_BITS {
            let byte = 19 - bit / 8;
            let mask = 1u8 << (bit % 8);
            if bit == index {
                distance[byte] |= mask;
            } else {
                distance[byte] &= !mask;
            }
        }
        self.xor(&distance)
    }

    fn xor(&self, other: &[u8; 20]) -> NodeId {
        let mut out = self.0;
        for (o, b) in out.iter_mut().zip(other.iter()) {
            *o ^= b;
        }
        NodeId(out)
    }
}

impl Distance {
    /// Number of leading zero bits (160 for a zero distance).
    pub(crate) fn leading_zeros(&self) -> usize {
        let mut count = 0;
        for byte in self.0 {
            if byte == 0 {
                count += 8;
            } else {
                return count + byte.leading_zeros() as usize;
            }
        }
        count
    }
}

impl From<[u8; 20]> for NodeId {
    fn from(bytes: [u8; 20]) -> Self {
        NodeId(bytes)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_is_xor_and_symmetric() {
        let a = NodeId([0xff; 20]);
        let b = NodeId([0x0f; 20]);
        assert_eq!(a.distance(&b), Distance([0xf0; 20]));
        assert_eq!(a.distance(&b), b.distance(&a));
        assert_eq!(a.distance(&a), Distance([0; 20]));
    }

    #[test]
    fn bucket_index_is_highest_differing_bit() {
        let own = NodeId([0; 20]);
        assert_eq!(own.bucket_index(&own), None);
        let mut last_bit = [0u8; 20];
        last_bit[19] = 1;
        assert_eq!(own.bucket_index(&NodeId(last_bit)), Some(0));
        let mut first_bit = [0u8; 20];
        first_bit[0] = 0x80;
        assert_eq!(own.bucket_index(&NodeId(first_bit)), Some(159));
        let mut bit_nine = [0u8; 20];
        bit_nine[18] = 0x02;
        bit_nine[19] = 0xff;
        assert_eq!(own.bucket_index(&NodeId(bit_nine)), Some(9));
    }

    #[test]
    fn random_in_bucket_lands_in_that_bucket() {
        let own = NodeId::random();
        for index in [0, 1, 7, 8, 9, 100, 158, 159] {
            for _ in 0..16 {
                let id = own.random_in_bucket(index);
                assert_eq!(own.bucket_index(&id), Some(index));
            }
        }
    }

    #[test]
    fn display_is_lowercase_hex() {
        let id = NodeId([0xab; 20]);
        assert_eq!(id.to_string(), "ab".repeat(20));
        assert_eq!(NodeId::from_slice(&[1; 19]), None);
        assert_eq!(NodeId::from_slice(&[1; 20]), Some(NodeId([1; 20])));
    }
}
