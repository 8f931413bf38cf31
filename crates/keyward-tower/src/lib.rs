//! keyward-tower: the `ApiKeyLayer`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
