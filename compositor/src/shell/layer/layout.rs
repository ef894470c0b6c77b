//! Where layer surfaces go on an output: pure geometry from what each surface asked for
//! (anchors, margins, size, exclusive zone), no protocol.
//!
//! `shell::layer` calls [`arrange`] whenever a layer surface of an output commits or goes away. The
//! rules are wlr-layer-shell's: a surface with an exclusive zone is anchored to one edge (or
//! an edge and both edges beside it) and keeps that much of the edge, plus its margin there,
//! to itself; surfaces that keep a zone are laid out first, in the order they were mapped,
//! each inside what the ones before left; the others then go inside what all of them left,
//! or, asking for no zone at all (-1), inside the whole output. A surface anchored to two
//! opposite edges with no size along them is stretched between them, less its margins; with
//! a size it keeps that size and is centred between them.
//!
//! Every number in a request is the client's: [`arrange`] first clamps them
//! (`client_geometry`), so that no margin, size or zone, however extreme, overflows the
//! layout's arithmetic or places a surface at a wrapped-around position.

use smithay::utils::{Logical, Point, Rectangle, Size};
use smithay::wayland::shell::wlr_layer::{Anchor, ExclusiveZone, Margins};

use crate::shell::client_geometry;

/// What one layer surface asked for.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub size: Size<i32, Logical>,
    pub anchor: Anchor,
    pub exclusive_zone: ExclusiveZone,
    pub margin: Margins,
}

impl Request {
    /// This request with every value clamped to what the layout's arithmetic holds: sizes
    /// (unsigned in the protocol) and the exclusive zone to `[0, MAX_COORDINATE]`, margins to
    /// `±MAX_COORDINATE`.
    fn bounded(&self) -> Request {
        let margin = self.margin;
        Request {
            size: Size::from((
                client_geometry::unsigned_extent(self.size.w),
                client_geometry::unsigned_extent(self.size.h),
            )),
            anchor: self.anchor,
            exclusive_zone: match self.exclusive_zone {
                ExclusiveZone::Exclusive(amount) => ExclusiveZone::Exclusive(
                    amount.min(client_geometry::MAX_COORDINATE.unsigned_abs()),
                ),
                other => other,
            },
            margin: Margins {
                top: client_geometry::coordinate(margin.top),
                right: client_geometry::coordinate(margin.right),
                bottom: client_geometry::coordinate(margin.bottom),
                left: client_geometry::coordinate(margin.left),
            },
        }
    }
}

/// The edge whose strip `request`'s exclusive zone keeps, if its anchors name one.
fn exclusive_edge(anchor: Anchor) -> Option<Anchor> {
    let horizontal = anchor & (Anchor::LEFT | Anchor::RIGHT);
    let vertical = anchor & (Anchor::TOP | Anchor::BOTTOM);
    match (horizontal.bits().count_ones(), vertical.bits().count_ones()) {
        // One edge, or one edge and both edges beside it; not a corner, not opposite edges.
        (1, 0) | (1, 2) => Some(horizontal),
        (0, 1) | (2, 1) => Some(vertical),
        _ => None,
    }
}

/// One axis of a placement: where along it and how long, inside `[start, start + length)`.
fn place_axis(
    start: i32,
    length: i32,
    wanted: i32,
    anchored: (bool, bool),
    margins: (i32, i32),
) -> (i32, i32) {
    let available = (length - margins.0 - margins.1).max(0);
    let size = if wanted > 0 { wanted } else { available };
    let position = match anchored {
        (true, true) => start + margins.0 + (available - size) / 2,
        (true, false) => start + margins.0,
        (false, true) => start + length - margins.1 - size,
        (false, false) => start + (length - size) / 2,
    };
    (position, size)
}

/// Where `request` goes inside `bounds`.
fn place(bounds: Rectangle<i32, Logical>, request: &Request) -> Rectangle<i32, Logical> {
    let anchor = request.anchor;
    let margin = request.margin;
    let (x, w) = place_axis(
        bounds.loc.x,
        bounds.size.w,
        request.size.w,
        (
            anchor.contains(Anchor::LEFT),
            anchor.contains(Anchor::RIGHT),
        ),
        (margin.left, margin.right),
    );
    let (y, h) = place_axis(
        bounds.loc.y,
        bounds.size.h,
        request.size.h,
        (
            anchor.contains(Anchor::TOP),
            anchor.contains(Anchor::BOTTOM),
        ),
        (margin.top, margin.bottom),
    );
    Rectangle::new(Point::from((x, y)), Size::from((w, h)))
}

/// `zone` less the strip that `request`'s exclusive zone keeps.
fn keep_strip(zone: Rectangle<i32, Logical>, request: &Request) -> Rectangle<i32, Logical> {
    let ExclusiveZone::Exclusive(amount) = request.exclusive_zone else {
        return zone;
    };
    let amount = i32::try_from(amount).unwrap_or(i32::MAX);
    let mut zone = zone;
    let m = request.margin;
    match exclusive_edge(request.anchor) {
        Some(Anchor::TOP) => {
            let kept = amount.saturating_add(m.top).clamp(0, zone.size.h);
            zone.loc.y += kept;
            zone.size.h -= kept;
        }
        Some(Anchor::BOTTOM) => {
            zone.size.h -= amount.saturating_add(m.bottom).clamp(0, zone.size.h);
        }
        Some(Anchor::LEFT) => {
            let kept = amount.saturating_add(m.left).clamp(0, zone.size.w);
            zone.loc.x += kept;
            zone.size.w -= kept;
        }
        Some(Anchor::RIGHT) => {
            zone.size.w -= amount.saturating_add(m.right).clamp(0, zone.size.w);
        }
        _ => {}
    }
    zone
}

/// Lays out `requests` (in the order they were mapped) on an output of `size`: each one's
/// rectangle in output coordinates, and the area the exclusive zones leave for windows.
pub fn arrange(
    size: Size<i32, Logical>,
    requests: &[Request],
) -> (Vec<Rectangle<i32, Logical>>, Rectangle<i32, Logical>) {
    let requests: Vec<Request> = requests.iter().map(Request::bounded).collect();
    let output = Rectangle::from_size(size);
    let mut placed = vec![Rectangle::default(); requests.len()];
    let mut zone = output;
    for (index, request) in requests.iter().enumerate() {
        if matches!(request.exclusive_zone, ExclusiveZone::Exclusive(_)) {
            placed[index] = place(zone, request);
            zone = keep_strip(zone, request);
        }
    }
    for (index, request) in requests.iter().enumerate() {
        match request.exclusive_zone {
            ExclusiveZone::Exclusive(_) => {}
            ExclusiveZone::Neutral => placed[index] = place(zone, request),
            ExclusiveZone::DontCare => placed[index] = place(output, request),
        }
    }
    (placed, zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(anchor: Anchor, size: (i32, i32), zone: ExclusiveZone) -> Request {
        Request {
            size: size.into(),
            anchor,
            exclusive_zone: zone,
            margin: Margins::default(),
        }
    }

    fn rect(x: i32, y: i32, w: i32, h: i32) -> Rectangle<i32, Logical> {
        Rectangle::new((x, y).into(), (w, h).into())
    }

    #[test]
    fn a_top_bar_keeps_its_strip_and_later_surfaces_avoid_it() {
        let output = Size::from((1000, 800));
        let centred = request(Anchor::empty(), (200, 100), ExclusiveZone::Neutral);
        let bar = request(
            Anchor::TOP | Anchor::LEFT | Anchor::RIGHT,
            (0, 30),
            ExclusiveZone::Exclusive(30),
        );
        let (placed, zone) = arrange(output, &[centred, bar]);
        assert_eq!(placed[1], rect(0, 0, 1000, 30));
        assert_eq!(zone, rect(0, 30, 1000, 770));
        // Mapped before the bar, still centred in what the bar leaves.
        assert_eq!(placed[0], rect(400, 30 + (770 - 100) / 2, 200, 100));
    }

    #[test]
    fn margins_and_opposite_anchors() {
        let output = Size::from((1000, 800));
        let mut stretched = request(
            Anchor::LEFT | Anchor::RIGHT,
            (0, 50),
            ExclusiveZone::Neutral,
        );
        stretched.margin = Margins {
            top: 0,
            right: 9,
            bottom: 0,
            left: 6,
        };
        let sized = request(
            Anchor::TOP | Anchor::BOTTOM,
            (100, 100),
            ExclusiveZone::Neutral,
        );
        let (placed, _) = arrange(output, &[stretched, sized]);
        assert_eq!(placed[0], rect(6, 375, 985, 50));
        assert_eq!(placed[1], rect(450, 350, 100, 100));
    }

    #[test]
    fn zones_only_count_on_one_edge() {
        let output = Size::from((1000, 800));
        let opposite = request(
            Anchor::TOP | Anchor::BOTTOM,
            (20, 0),
            ExclusiveZone::Exclusive(20),
        );
        let corner = request(
            Anchor::TOP | Anchor::LEFT,
            (20, 20),
            ExclusiveZone::Exclusive(20),
        );
        let left = request(Anchor::LEFT, (20, 20), ExclusiveZone::Exclusive(20));
        let whole = request(Anchor::all(), (0, 0), ExclusiveZone::DontCare);
        let (placed, zone) = arrange(output, &[opposite, corner, left, whole]);
        assert_eq!(zone, rect(20, 0, 980, 800));
        assert_eq!(placed[3], rect(0, 0, 1000, 800));
    }

    /// Every anchor combination with boundary margins, sizes and zones (the values a hostile
    /// client sends): no overflow, and every rectangle stays inside the clamped space.
    #[test]
    fn extreme_requests_lay_out_inside_bounds() {
        let values = [
            i32::MIN,
            i32::MIN + 1,
            -65536,
            -1,
            0,
            1,
            65536,
            i32::MAX - 1,
            i32::MAX,
        ];
        let zones = [i32::MIN, -1, 0, 1, 4096, i32::MAX];
        let limit = 4 * client_geometry::MAX_COORDINATE;
        for bits in 0..16u32 {
            let anchor = Anchor::from_bits_truncate(bits);
            for &v in &values {
                for &zone in &zones {
                    let mut extreme = request(anchor, (v, v.wrapping_neg()), zone.into());
                    extreme.margin = Margins {
                        top: v,
                        right: v.wrapping_add(1),
                        bottom: v.wrapping_neg(),
                        left: v,
                    };
                    let plain = request(Anchor::TOP, (100, 20), ExclusiveZone::Exclusive(20));
                    let (placed, zone) = arrange(Size::from((1920, 1080)), &[extreme, plain]);
                    for r in placed.iter().chain([&zone]) {
                        assert!(r.size.w >= 0 && r.size.h >= 0, "{r:?} for {extreme:?}");
                        for c in [r.loc.x, r.loc.y, r.size.w, r.size.h] {
                            assert!(
                                c.unsigned_abs() <= limit.unsigned_abs(),
                                "{r:?} for {extreme:?}"
                            );
                        }
                    }
                    assert!(Rectangle::from_size(Size::from((1920, 1080))).contains_rect(zone));
                }
            }
        }
    }
}
