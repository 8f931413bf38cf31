//! The characters a token's random parts are drawn from.

/// The character set of a token's public prefix and secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Alphabet {
    /// `0-9A-Za-z`: 5.95 bits a character.
    Base62,
    /// `0-9a-z`: 5.17 bits a character.
    LowerAlphanumeric,
    /// `0-9a-f`: 4 bits a character.
    LowerHex,
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const LOWER_ALNUM: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

impl Alphabet {
    /// The characters, in order.
    pub const fn chars(self) -> &'static [u8] {
        match self {
            Self::Base62 => BASE62,
            Self::LowerAlphanumeric => LOWER_ALNUM,
            Self::LowerHex => LOWER_HEX,
        }
    }

    /// Whether `byte` belongs to the alphabet.
    #[inline]
    pub const fn contains(self, byte: u8) -> bool {
        match self {
            Self::Base62 => byte.is_ascii_alphanumeric(),
            Self::LowerAlphanumeric => byte.is_ascii_digit() || byte.is_ascii_lowercase(),
            Self::LowerHex => byte.is_ascii_digit() || matches!(byte, b'a'..=b'f'),
        }
    }

    /// Whether every byte belongs to the alphabet (a table lookup a byte, no early exit).
    #[inline]
    pub fn contains_all(self, bytes: &[u8]) -> bool {
        let table = match self {
            Self::Base62 => &BASE62_TABLE,
            Self::LowerAlphanumeric => &LOWER_ALNUM_TABLE,
            Self::LowerHex => &LOWER_HEX_TABLE,
        };
        bytes
            .iter()
            .fold(true, |all, &byte| all & table[usize::from(byte)])
    }

    /// Bits of entropy in one uniformly drawn character.
    pub fn bits_per_char(self) -> f64 {
        (self.chars().len() as f64).log2()
    }
}

const fn table(alphabet: Alphabet) -> [bool; 256] {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = alphabet.contains(byte as u8);
        byte += 1;
    }
    table
}

static BASE62_TABLE: [bool; 256] = table(Alphabet::Base62);
static LOWER_ALNUM_TABLE: [bool; 256] = table(Alphabet::LowerAlphanumeric);
static LOWER_HEX_TABLE: [bool; 256] = table(Alphabet::LowerHex);

/// Encodes a CRC32 as six base62 characters (62⁶ > 2³²), most significant first.
pub(crate) fn checksum_chars(crc: u32) -> [u8; CHECKSUM_LEN] {
    let mut out = [b'0'; CHECKSUM_LEN];
    let mut value = crc;
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out
}

/// Length of the checksum suffix.
pub(crate) const CHECKSUM_LEN: usize = 6;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_matches_chars() {
        for alphabet in [Alphabet::Base62, Alphabet::LowerAlphanumeric, Alphabet::LowerHex] {
            for byte in 0..=u8::MAX {
                assert_eq!(
                    alphabet.contains(byte),
                    alphabet.chars().contains(&byte),
                    "{alphabet:?} {byte}"
                );
                assert_eq!(
                    alphabet.contains_all(&[b'0', byte, b'1']),
                    alphabet.contains(byte),
                    "{alphabet:?} {byte} in a run"
                );
            }
        }
    }

    #[test]
    fn checksum_encoding_is_fixed_width() {
        assert_eq!(&checksum_chars(0), b"000000");
        assert_eq!(&checksum_chars(61), b"00000z");
        assert_eq!(&checksum_chars(u32::MAX), b"4gfFC3");
    }
}
