//! keyward-axum: extractors, guards and the key-management router.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
