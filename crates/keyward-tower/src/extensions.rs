//! Room in a request's extensions for what comes after the layer.
//!
//! `http::Extensions` makes its map on the first insert with room for three values, and an axum
//! router adds three of its own (the matched path, the path parameters, the original URI). Around
//! the router, the layer's [`VerifiedKey`](crate::VerifiedKey) is the first of four, so the map
//! would grow on the router's third insert: a second table allocated, the entries moved, the
//! first table freed, on every request. `http` has no way to reserve room (see
//! `docs/http-extensions.md`), but a clone keeps the table's size: a request that carries no
//! extensions is given a clone of an empty map that has room for seven, made once, which costs
//! the same two allocations as the first insert would have.

use std::sync::LazyLock;

use http::Extensions;

/// An empty map with room for seven values: four were inserted (the fourth grew the table to
/// eight buckets) and cleared, which keeps the table.
static ROOM_FOR_SEVEN: LazyLock<Extensions> = LazyLock::new(|| {
    #[derive(Clone)]
    struct First;
    #[derive(Clone)]
    struct Second;
    #[derive(Clone)]
    struct Third;
    #[derive(Clone)]
    struct Fourth;
    let mut extensions = Extensions::new();
    extensions.insert(First);
    extensions.insert(Second);
    extensions.insert(Third);
    extensions.insert(Fourth);
    extensions.clear();
    extensions
});

/// Inserts `value`, first making room for what the services behind the layer add when the
/// request carries no extensions yet. A request that already carries some keeps its map as it is
/// (growing it now or later costs the same).
pub(crate) fn insert_with_room<T: Clone + Send + Sync + 'static>(extensions: &mut Extensions, value: T) {
    if extensions.is_empty() {
        extensions.clone_from(&ROOM_FOR_SEVEN);
    }
    extensions.insert(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_go_in_with_or_without_room_made() {
        let mut empty = Extensions::new();
        insert_with_room(&mut empty, 7_u32);
        assert_eq!(empty.get::<u32>(), Some(&7));
        assert_eq!(empty.len(), 1);

        let mut carrying = Extensions::new();
        carrying.insert("already there");
        insert_with_room(&mut carrying, 7_u32);
        assert_eq!(carrying.get::<&str>(), Some(&"already there"));
        assert_eq!(carrying.get::<u32>(), Some(&7));
        assert_eq!(carrying.len(), 2);
    }

    #[test]
    fn the_room_holds_no_values() {
        assert!(ROOM_FOR_SEVEN.is_empty());
        let mut extensions = Extensions::new();
        insert_with_room(&mut extensions, 1_u8);
        assert_eq!(ROOM_FOR_SEVEN.len(), 0, "the shared map is cloned, not changed");
    }
}
