//! Bounds on the geometry clients ask for: positions, sizes, margins and offsets.
//!
//! A client may send any 32-bit value where the protocols take an integer; some of them are
//! legal and absurd (a margin of `i32::MIN`, a layer surface 4 billion pixels wide, a
//! subsurface at `i32::MAX`). Every place that takes such a value into the compositor's own
//! arithmetic passes it through here first (`layer::layout`, `subsurface_position`, `input::cursor`,
//! `interactive`, the popup placement in `state`): a position lands in
//! `[-MAX_COORDINATE, MAX_COORDINATE]` and a size in `[0, MAX_COORDINATE]`, so that a sum of
//! a few of them (an output's origin, a window's place, a surface's offset) stays inside
//! `i32` and the compositor never panics on overflow nor wraps into garbage geometry. Values
//! the protocols forbid are refused by their handlers with the protocol's error before they
//! get here.

use smithay::utils::{Point, Rectangle, Size};

/// The largest distance, in logical pixels, that a client-supplied position or size may span:
/// far beyond any output (16M pixels), and 64 of them still sum inside `i32`.
pub const MAX_COORDINATE: i32 = 1 << 24;

/// A client-supplied position (or offset, or margin) clamped to `±MAX_COORDINATE`.
pub fn coordinate(value: i32) -> i32 {
    value.clamp(-MAX_COORDINATE, MAX_COORDINATE)
}

/// A client-supplied size clamped to `[0, MAX_COORDINATE]`.
pub fn extent(value: i32) -> i32 {
    value.clamp(0, MAX_COORDINATE)
}

/// A client-supplied unsigned size (a protocol `uint` that smithay stores as `i32`, where
/// values past `i32::MAX` come out negative) clamped to `[0, MAX_COORDINATE]`.
pub fn unsigned_extent(value: i32) -> i32 {
    if value < 0 {
        MAX_COORDINATE
    } else {
        extent(value)
    }
}

/// [`coordinate`] for both axes of a point.
pub fn point<Kind>(point: Point<i32, Kind>) -> Point<i32, Kind> {
    Point::from((coordinate(point.x), coordinate(point.y)))
}

/// [`extent`] for both axes of a size.
pub fn size<Kind>(size: Size<i32, Kind>) -> Size<i32, Kind> {
    Size::from((extent(size.w), extent(size.h)))
}

/// A rectangle whose position and size are both clamped.
pub fn rectangle<Kind>(rectangle: Rectangle<i32, Kind>) -> Rectangle<i32, Kind> {
    Rectangle::new(point(rectangle.loc), size(rectangle.size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_are_clamped_and_sums_of_a_few_stay_inside_i32() {
        assert_eq!(coordinate(i32::MIN), -MAX_COORDINATE);
        assert_eq!(coordinate(i32::MAX), MAX_COORDINATE);
        assert_eq!(coordinate(-5), -5);
        assert_eq!(extent(-1), 0);
        assert_eq!(extent(i32::MAX), MAX_COORDINATE);
        assert_eq!(unsigned_extent(u32::MAX as i32), MAX_COORDINATE);
        assert_eq!(unsigned_extent(300), 300);
        let sum = (0..64).try_fold(0i32, |sum, _| sum.checked_add(coordinate(i32::MAX)));
        assert!(sum.is_some());
    }
}
