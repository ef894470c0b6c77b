//! Key bindings of the configuration file: `"Super+Shift+Return" = "terminal"` parsed into
//! modifiers, a key (an xkb keysym name, any case) and an action ([`Binding`]). Input matches
//! each key press against them by the key's unshifted symbol, so "Super+Shift+Tab" is Tab with
//! Super and Shift held.

use smithay::input::keyboard::{keysyms, xkb, Keysym, ModifiersState};

/// What a binding does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingAction {
    /// Start the compositor's terminal.
    Terminal,
    /// Ask the focused window to close.
    Close,
    Quit,
    /// Read the configuration file again.
    Reload,
    /// Focus the next window down the stack (the bottom one goes to the top).
    FocusNext,
    /// Focus the window at the bottom of the stack.
    FocusPrevious,
    /// Maximize the focused window, or restore it.
    Maximize,
    /// Make the focused window fullscreen, or restore it.
    Fullscreen,
    /// Move the focused window to the next output.
    MoveToNextOutput,
    /// Start a program: its command line, split on spaces.
    Spawn(Vec<String>),
}

/// A key with modifiers, and its action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    logo: bool,
    ctrl: bool,
    alt: bool,
    shift: bool,
    key: Keysym,
    pub action: BindingAction,
}

impl Binding {
    /// Parses `keys` ("Super+Shift+Return") and `action` ("terminal", "spawn foot -e top").
    pub fn parse(keys: &str, action: &str) -> Result<Binding, String> {
        let mut binding = Binding {
            logo: false,
            ctrl: false,
            alt: false,
            shift: false,
            key: Keysym::from(keysyms::KEY_NoSymbol),
            action: parse_action(action).map_err(|why| format!("binding {keys:?}: {why}"))?,
        };
        let parts: Vec<&str> = keys.split('+').map(str::trim).collect();
        let Some((key, modifiers)) = parts.split_last() else {
            return Err(format!("binding {keys:?}: no key"));
        };
        for modifier in modifiers {
            let held = match modifier.to_ascii_lowercase().as_str() {
                "super" | "logo" | "mod4" => &mut binding.logo,
                "ctrl" | "control" => &mut binding.ctrl,
                "alt" | "mod1" => &mut binding.alt,
                "shift" => &mut binding.shift,
                other => {
                    return Err(format!(
                        "binding {keys:?}: unknown modifier {other:?} (Super, Ctrl, Alt, Shift)"
                    ))
                }
            };
            *held = true;
        }
        let sym = xkb::keysym_from_name(key, xkb::KEYSYM_CASE_INSENSITIVE);
        if sym.raw() == keysyms::KEY_NoSymbol {
            return Err(format!(
                "binding {keys:?}: unknown key {key:?} (an xkb key name: Return, Tab, q, F1...)"
            ));
        }
        binding.key = sym;
        Ok(binding)
    }

    /// Whether a press of `key` (its unshifted symbol) with `modifiers` held is this binding.
    pub fn matches(&self, modifiers: &ModifiersState, key: Keysym) -> bool {
        let same_key = key == self.key
            || xkb::keysym_from_name(&xkb::keysym_get_name(key), xkb::KEYSYM_CASE_INSENSITIVE)
                == self.key;
        same_key
            && modifiers.logo == self.logo
            && modifiers.ctrl == self.ctrl
            && modifiers.alt == self.alt
            && modifiers.shift == self.shift
    }
}

/// Parses an action as bindings name them ("close", "spawn foot -e top").
pub fn parse_action(text: &str) -> Result<BindingAction, String> {
    let mut words = text.split_whitespace();
    let action = match words.next() {
        Some("terminal") => BindingAction::Terminal,
        Some("close") => BindingAction::Close,
        Some("quit") => BindingAction::Quit,
        Some("reload") => BindingAction::Reload,
        Some("focus-next") => BindingAction::FocusNext,
        Some("focus-previous") => BindingAction::FocusPrevious,
        Some("maximize") => BindingAction::Maximize,
        Some("fullscreen") => BindingAction::Fullscreen,
        Some("move-to-next-output") => BindingAction::MoveToNextOutput,
        Some("spawn") => {
            let command: Vec<String> = words.by_ref().map(String::from).collect();
            if command.is_empty() {
                return Err("spawn needs a program".into());
            }
            BindingAction::Spawn(command)
        }
        _ => {
            return Err(format!(
                "unknown action {text:?} (terminal, close, quit, reload, focus-next, \
                 focus-previous, maximize, fullscreen, move-to-next-output, spawn PROGRAM)"
            ))
        }
    };
    if words.next().is_some() {
        return Err(format!("action {text:?} takes no arguments"));
    }
    Ok(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(logo: bool, shift: bool) -> ModifiersState {
        ModifiersState {
            logo,
            shift,
            ..ModifiersState::default()
        }
    }

    #[test]
    fn bindings_match_their_keys_and_modifiers_only() {
        let close = Binding::parse("Super+Q", "close").expect("parses");
        let q = Keysym::from(keysyms::KEY_q);
        assert!(close.matches(&held(true, false), q));
        assert!(
            !close.matches(&held(true, true), q),
            "Shift is not held in the binding"
        );
        assert!(!close.matches(&held(false, false), q));
        let back = Binding::parse("super+shift+tab", "focus-previous").expect("any case");
        assert!(back.matches(&held(true, true), Keysym::from(keysyms::KEY_Tab)));
        assert_eq!(
            Binding::parse("Ctrl+Alt+T", "spawn foot -e top").map(|b| b.action),
            Ok(BindingAction::Spawn(vec![
                "foot".into(),
                "-e".into(),
                "top".into()
            ]))
        );
    }

    #[test]
    fn nonsense_is_refused_with_a_reason() {
        for (keys, action) in [
            ("Hyper+Q", "close"),
            ("Super+Nosuchkey", "close"),
            ("Super+Q", "explode"),
            ("Super+Q", "spawn"),
            ("Super+Q", "close now"),
            ("", "close"),
        ] {
            assert!(Binding::parse(keys, action).is_err(), "{keys} = {action}");
        }
    }
}
