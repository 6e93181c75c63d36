//! Layer 3, the honeypot: the widget's form has a field people never see (visually hidden,
//! `aria-hidden`, out of the tab order); a bot that fills every field fills it too. Such a
//! comment goes to spam quietly: the bot is told nothing it could learn from.

use super::Verdict;

pub(super) fn check(trap: Option<&str>) -> Verdict {
    match trap {
        Some(value) if !value.trim().is_empty() => Verdict::spam("honeypot"),
        _ => Verdict::Accept,
    }
}
