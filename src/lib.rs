//! keyward: API-key authentication for axum and tower.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use keyward_axum as axum;
pub use keyward_core as core;
pub use keyward_tower as tower;
