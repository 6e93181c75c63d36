//! Layer 2, the signed form token (the same token as the proof of work): it must be for this
//! site and page, unexpired, used once, and older than the time a person needs to write a
//! comment. A form sent too soon or too late is held for a moderator (a person may have been
//! quick, or left the tab open); a token for another page, or used twice (on any server, at any
//! time: the store remembers it), marks a script replaying what it captured: spam.

use super::challenge::Opened;
use super::{Candidate, Verdict};
use crate::config::SpamRules;
use crate::error::Error;

pub(super) fn check(
    proof: &Opened,
    c: &Candidate<'_>,
    rules: &SpamRules,
    first_use: impl FnOnce([u8; 16], i64) -> Result<bool, Error>,
) -> Result<Verdict, Error> {
    let Opened::Signed { claims, salt, .. } = proof else {
        // No token to check: the proof of work's layer has said what that means.
        return Ok(Verdict::Accept);
    };
    if claims.site != c.site || claims.page_key != c.page_key {
        return Ok(Verdict::spam("token_other_page"));
    }
    if !first_use(*salt, claims.expires)? {
        return Ok(Verdict::spam("token_reused"));
    }
    if c.now_ms > claims.expires {
        return Ok(Verdict::hold("token_expired"));
    }
    if c.now_ms - claims.issued < rules.min_fill_ms() {
        return Ok(Verdict::hold("too_fast"));
    }
    Ok(Verdict::Accept)
}
