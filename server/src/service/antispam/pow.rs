//! Layer 1, the proof of work: the widget's browser found the puzzle's number while the reader
//! typed. A comment without a proof, with one this server did not sign, or with a wrong
//! number was sent by something that is not the widget: it goes to spam.

use super::Verdict;
use super::challenge::Opened;

pub(super) fn check(proof: &Opened) -> Verdict {
    match proof {
        Opened::Missing => Verdict::spam("proof_missing"),
        Opened::Forged => Verdict::spam("proof_invalid"),
        Opened::Signed { solved: false, .. } => Verdict::spam("proof_invalid"),
        Opened::Signed { solved: true, .. } => Verdict::Accept,
    }
}
