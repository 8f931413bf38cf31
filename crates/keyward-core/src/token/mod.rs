//! Token formats: minting, strict parsing, checksums.
//!
//! A [`TokenFormat`] describes a family of tokens: a namespace, an optional `live`/`test`
//! environment segment, an optional key-kind segment, an optional public prefix, and a secret
//! over an [`Alphabet`], optionally followed by a six-character CRC32 checksum (as GitHub's tokens
//! do), so that a mistyped or made-up token is refused before any store lookup.
//!
//! ```
//! use keyward_core::token::{Alphabet, TokenFormat};
//! use keyward_core::{Environment, KeyKind};
//!
//! // Adtarget's `atk_live_<8-char prefix>_<32-char secret>`.
//! let format = TokenFormat::builder("atk")
//!     .environment()
//!     .public_prefix(8)
//!     .secret(32, Alphabet::LowerAlphanumeric)
//!     .build()?;
//! let token = format.mint(Environment::Live, KeyKind::Secret);
//! assert!(token.expose().starts_with("atk_live_"));
//! assert_eq!(token.expose().len(), 50);
//!
//! let parsed = format.parse(token.expose())?;
//! assert_eq!(parsed.prefix().map(str::len), Some(8));
//! assert!(format.parse("atk_live_nope").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod alphabet;
mod error;
mod format;
mod parsed;
mod plaintext;
mod spec;

pub use alphabet::Alphabet;
pub use error::{FormatError, TokenError};
pub use format::{TokenFormat, TokenFormatBuilder};
pub use parsed::ParsedToken;
pub use plaintext::PlaintextToken;
