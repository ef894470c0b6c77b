//! Monitors by what they are, not where they are plugged: make, model and serial (from the
//! EDID on the TTY, given by `msg output-add --serial` on the headless backend), and the output
//! settings remembered for each.
//!
//! Backends put a [`MonitorId`] in each output's `OutputInfo`. Output changes
//! (`output_management::apply_changes`: wlr-output-management, the configuration file)
//! [`remember`](MonitorSettings::remember) the output's state under its monitor; the configuration
//! code [`recall`](MonitorSettings::recall)s it when that monitor comes again, on any connector.

use std::collections::HashMap;

use smithay::output::Output;

use crate::protocols::output_management::HeadChanges;

/// What a monitor is: the same panel plugged into another port keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MonitorId {
    pub make: String,
    pub model: String,
    /// Empty when the monitor does not say (some panels do not).
    pub serial: String,
}

impl MonitorId {
    /// "make model serial", as the configuration file names a monitor.
    pub fn description(&self) -> String {
        [&self.make, &self.model, &self.serial]
            .iter()
            .filter(|part| !part.is_empty())
            .map(|part| part.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Make, model and serial from an EDID's base block; `None` when `edid` is not one.
    /// The make is the three-letter PNP id; the model the name descriptor, else the product
    /// code; the serial the serial descriptor, else the numeric serial when it is not zero.
    pub fn from_edid(edid: &[u8]) -> Option<MonitorId> {
        const HEADER: [u8; 8] = [0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00];
        if edid.len() < 128 || edid[..8] != HEADER {
            return None;
        }
        let vendor = u16::from_be_bytes([edid[8], edid[9]]);
        let letter = |shift: u16| -> Option<char> {
            let code = ((vendor >> shift) & 0x1f) as u8;
            (1..=26)
                .contains(&code)
                .then(|| char::from(b'A' + code - 1))
        };
        let make: String = [letter(10)?, letter(5)?, letter(0)?].iter().collect();
        let product = u16::from_le_bytes([edid[10], edid[11]]);
        let number = u32::from_le_bytes([edid[12], edid[13], edid[14], edid[15]]);
        let mut name = None;
        let mut serial = None;
        for descriptor in edid[54..126].chunks_exact(18) {
            if descriptor[..3] != [0, 0, 0] {
                continue;
            }
            let text = descriptor_text(&descriptor[5..]);
            match descriptor[3] {
                0xfc if !text.is_empty() => name = Some(text),
                0xff if !text.is_empty() => serial = Some(text),
                _ => {}
            }
        }
        Some(MonitorId {
            make,
            model: name.unwrap_or_else(|| format!("0x{product:04x}")),
            serial: serial.unwrap_or_else(|| {
                if number == 0 {
                    String::new()
                } else {
                    number.to_string()
                }
            }),
        })
    }
}

/// A display descriptor's text: printable ASCII up to its line feed, trailing spaces dropped.
fn descriptor_text(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take_while(|&&byte| byte != b'\n')
        .map(|&byte| {
            if byte.is_ascii_graphic() || byte == b' ' {
                char::from(byte)
            } else {
                '?'
            }
        })
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// The last settings of each monitor seen this session. Monitors that report no serial are left
/// out: two of one make and model could not be told apart.
#[derive(Debug, Default)]
pub struct MonitorSettings {
    settings: HashMap<MonitorId, HeadChanges>,
}

impl MonitorSettings {
    /// Keeps `output`'s mode, position, scale and transform as they are now, for `monitor`.
    pub fn remember(&mut self, monitor: &MonitorId, output: &Output, position: (i32, i32)) {
        if monitor.serial.is_empty() {
            return;
        }
        let settings = HeadChanges {
            mode: output.current_mode(),
            position: Some(position),
            transform: Some(output.current_transform()),
            scale: Some(output.current_scale().fractional_scale()),
        };
        self.settings.insert(monitor.clone(), settings);
    }

    /// What `monitor` was last set to, if it was seen this session.
    pub fn recall(&self, monitor: &MonitorId) -> Option<&HeadChanges> {
        if monitor.serial.is_empty() {
            return None;
        }
        self.settings.get(monitor)
    }
}

#[cfg(test)]
mod tests {
    use super::MonitorId;

    /// A base block: PNP id "DEL", product 0x4321, numeric serial 7, and the given descriptors
    /// (tag, text) from byte 54 on.
    fn edid(descriptors: &[(u8, &str)]) -> Vec<u8> {
        let mut edid = vec![0u8; 128];
        edid[..8].copy_from_slice(&[0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]);
        let code = |c: u8| u16::from(c - b'A' + 1);
        let vendor = (code(b'D') << 10) | (code(b'E') << 5) | code(b'L');
        edid[8..10].copy_from_slice(&vendor.to_be_bytes());
        edid[10..12].copy_from_slice(&0x4321u16.to_le_bytes());
        edid[12..16].copy_from_slice(&7u32.to_le_bytes());
        for (slot, (tag, text)) in descriptors.iter().enumerate() {
            let at = 54 + slot * 18;
            edid[at + 3] = *tag;
            let mut field = [b' '; 13];
            field[..text.len()].copy_from_slice(text.as_bytes());
            if text.len() < 13 {
                field[text.len()] = b'\n';
            }
            edid[at + 5..at + 18].copy_from_slice(&field);
        }
        edid
    }

    #[test]
    fn name_and_serial_descriptors_win_over_the_numbers() {
        let id = MonitorId::from_edid(&edid(&[(0xfc, "U2720Q"), (0xff, "ABC123")])).expect("edid");
        assert_eq!(id.make, "DEL");
        assert_eq!(id.model, "U2720Q");
        assert_eq!(id.serial, "ABC123");
        assert_eq!(id.description(), "DEL U2720Q ABC123");
    }

    #[test]
    fn without_descriptors_the_product_code_and_number_stand_in() {
        let id = MonitorId::from_edid(&edid(&[])).expect("edid");
        assert_eq!((id.model.as_str(), id.serial.as_str()), ("0x4321", "7"));
    }

    #[test]
    fn what_is_not_an_edid_is_refused() {
        assert_eq!(MonitorId::from_edid(&[0; 128]), None);
        assert_eq!(MonitorId::from_edid(&edid(&[])[..100]), None);
    }
}
