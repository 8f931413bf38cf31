//! The token formats of the seed APIs and keyward's default: for each, a freshly minted example,
//! the entropy of its secret, how a store finds it, and the pattern secret scanners can search for.
//!
//! ```text
//! cargo run -p keyward-core --example seed_formats
//! ```

use keyward_core::token::{Alphabet, FormatError, TokenFormat};
use keyward_core::{Environment, KeyKind};

fn main() -> Result<(), FormatError> {
    let formats = [
        (
            "Adtarget",
            TokenFormat::builder("atk")
                .environment()
                .public_prefix(8)
                .secret(32, Alphabet::LowerAlphanumeric)
                .build()?,
        ),
        (
            "Atribu",
            TokenFormat::builder("atb")
                .environment()
                .public_prefix(8)
                .secret(32, Alphabet::Base62)
                .build()?,
        ),
        (
            "Tolinku",
            TokenFormat::builder("tolk")
                .kind_segment("pub", "sec")
                .secret(32, Alphabet::Base62)
                .build()?,
        ),
        (
            "Toksta",
            TokenFormat::builder("tk")
                .environment()
                .secret(48, Alphabet::LowerHex)
                .build()?,
        ),
        (
            "Trcker",
            TokenFormat::builder("tk").secret(40, Alphabet::Base62).build()?,
        ),
        ("keyward (default)", TokenFormat::default()),
    ];
    for (name, format) in &formats {
        // A throwaway example, never stored: real tokens are shown once to their owner, never printed.
        let example = format.mint(Environment::Live, KeyKind::Secret);
        let lookup = if format.has_prefix() {
            "public prefix"
        } else {
            "hash of the whole token"
        };
        println!("{name}");
        println!("  example  {}", example.expose());
        println!("  entropy  {:.1} bits", format.secret_bits());
        println!("  lookup   by {lookup}");
        println!("  scan     {}", format.scan_pattern());
    }
    Ok(())
}
