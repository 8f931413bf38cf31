//! The self-serve key page: see [`KeyPage`].

mod assets;
mod csrf;
mod handlers;
mod html;
mod page;
mod user;

pub use self::csrf::CSRF_HEADER;
pub use self::page::{KeyPage, page};
pub use self::user::{PageUser, ResolveUser};
