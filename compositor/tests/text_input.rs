//! Text input and an input method through real clients: a program's text field is focused and
//! enabled before any input method runs; the input method started afterwards (as fcitx5 started
//! after the program) is activated at once, told the field's surrounding text and content type,
//! gets the seat's keymap with its keyboard grab, the text it commits reaches the field with
//! the field's serial, and its candidate popup is drawn under the field's cursor rectangle.

mod common;

use common::*;

#[test]
fn an_input_method_started_after_the_field_was_enabled_types_into_it() {
    let script = r#"
count() { tandem-compositor msg windows --json | grep -c '"app_id"'; }
tandem-test-client --app-id field --size 120x90 --text-field --exit-after 8 > "$OUT/field.txt" 2>&1 & field=$!
i=0; until [ "$(count)" -ge 1 ]; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
sleep 0.5
cp "$OUT/field.txt" "$OUT/field-before.txt"
tandem-test-client --input-method '日本語 text' --hold 4 > "$OUT/method.txt" 2>&1 & method=$!
sleep 2.5
cp "$OUT/output-0.png" "$OUT/with-popup.png"
tandem-compositor msg windows --json > "$OUT/windows.json"
wait $method
kill $field
tandem-compositor msg quit
"#;
    let run = run_compositor(&["--backend", "headless", "--gpus", "1"], script, &[]);
    let log = |name: &str| std::fs::read_to_string(run.path(name)).unwrap_or_default();
    let field = log("field.txt");
    let method = log("method.txt");
    let lines = |text: &str| text.lines().map(str::to_owned).collect::<Vec<_>>();
    let before = log("field-before.txt");
    assert!(
        lines(&before).contains(&"text input: enter".to_owned()),
        "the field entered its focused window before any input method ran:\n{before}"
    );
    let method_lines = lines(&method);
    let activated = method_lines
        .iter()
        .position(|line| line == "input method: activate");
    assert!(
        activated.is_some(),
        "the input method started later is activated for the enabled field:\n{method}"
    );
    let surrounding = format!(
        "input method: surrounding_text {:?} cursor {}",
        tandem_test_client::text_input::SURROUNDING,
        tandem_test_client::text_input::SURROUNDING.len()
    );
    assert!(
        method_lines.contains(&surrounding),
        "it is told the field's surrounding text ({surrounding}):\n{method}"
    );
    assert!(
        method_lines
            .iter()
            .any(|line| line.starts_with("input method: content_type")
                && line.contains("Spellcheck")),
        "and its content type:\n{method}"
    );
    let keymap_bytes = method_lines
        .iter()
        .find_map(|line| line.strip_prefix("input method: grab keymap "))
        .and_then(|rest| rest.split(' ').next()?.parse::<u64>().ok());
    assert!(
        keymap_bytes.is_some_and(|bytes| bytes > 1000),
        "its keyboard grab gets the seat's keymap:\n{method}"
    );
    assert!(
        method_lines
            .iter()
            .any(|line| line.starts_with("input method: grab repeat")),
        "and the repeat rate:\n{method}"
    );
    let field_lines = lines(&field);
    let committed = field_lines
        .iter()
        .position(|line| line == "text input: commit_string 日本語 text");
    assert!(
        committed.is_some(),
        "the input method's text reaches the field:\n{field}\n{method}"
    );
    // The field committed once (its enable): the done that applies the text carries serial 1.
    assert_eq!(
        committed
            .and_then(|at| field_lines.get(at + 1))
            .map(String::as_str),
        Some("text input: done 1"),
        "applied by a done with the field's serial:\n{field}"
    );
    let windows = run.json("windows.json");
    let window = &windows["windows"][0];
    let (x, y) = (
        window["x"].as_i64().unwrap_or(-1),
        window["y"].as_i64().unwrap_or(-1),
    );
    use tandem_test_client::text_input::{CURSOR, POPUP_COLOUR, POPUP_SIZE};
    let (cx, cy, _, ch) = CURSOR;
    // The middle of the popup, placed with its top-left corner under the cursor rectangle.
    let at = (
        x + i64::from(cx + POPUP_SIZE.0 / 2),
        y + i64::from(cy + ch + POPUP_SIZE.1 / 2),
    );
    let colour = [
        (POPUP_COLOUR >> 16) as u8,
        (POPUP_COLOUR >> 8) as u8,
        POPUP_COLOUR as u8,
    ];
    assert!(
        method_lines.contains(&"input method: popup shown".to_owned()),
        "the input method showed its popup:\n{method}"
    );
    assert_eq!(
        pixel(&run.path("with-popup.png"), at.0 as u32, at.1 as u32),
        colour,
        "the popup is drawn under the field's cursor rectangle, at {at:?} (window at {x},{y})"
    );
}
