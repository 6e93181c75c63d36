//! Layer 3, the honeypot: the widget's form has a field people never see (visually hidden,
//! `aria-hidden`, out of the tab order); a bot that fills every field fills it too. Such a
//! comment goes to spam quietly: the bot is told nothing it could learn from. The widget's
//! script reports it with the proof; a plain HTML form sends the field itself (`trap`).

use super::Verdict;
use super::challenge::Opened;

pub(super) fn check(trap: Option<&str>, proof: &Opened) -> Verdict {
    let filled = trap.is_some_and(|value| !value.trim().is_empty());
    let reported = matches!(proof, Opened::Signed { trapped: true, .. });
    if filled || reported {
        Verdict::spam("honeypot")
    } else {
        Verdict::Accept
    }
}
