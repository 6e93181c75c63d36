//! How many mails about single comments a site's owner gets: at most
//! [`OWNER_MAILS_PER_HOUR`] in any hour. Beyond that, comments are folded and mailed together
//! as one digest once the hour has room again, so a flood of comments (or of spam the owner
//! asked to hear of) costs the owner's inbox and the relay's reputation a few mails and loses
//! nothing: the consumer's stored cursor stays before the first folded comment until its digest
//! has gone (after a restart, what was mailed after it may be mailed again, never less).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use crate::service::Notice;

/// Single-comment mails a site's owner gets in an hour at most.
pub(super) const OWNER_MAILS_PER_HOUR: usize = 20;
const HOUR_MS: i64 = 3_600_000;

/// What to mail now.
#[derive(Debug, Default)]
pub(super) struct Plan {
    /// Mail each of these on its own.
    pub singles: Vec<Notice>,
    /// Mail each of these lists as one digest (a site's folded comments).
    pub digests: Vec<Vec<Notice>>,
}

/// The owner-mail consumer's memory between turns.
#[derive(Debug, Default)]
pub(super) struct Throttle {
    /// When each site's latest mails went (ms), at most [`OWNER_MAILS_PER_HOUR`].
    sent: HashMap<String, VecDeque<i64>>,
    /// Comments waiting for their site's digest, in change order.
    folded: BTreeMap<String, Vec<Notice>>,
    /// Changes past the stored cursor already mailed or folded (so a re-read skips them).
    handled: BTreeSet<u64>,
    /// How far the log has been read (the stored cursor may lag behind while comments wait).
    pub(super) read_to: u64,
    /// The cursor this server stored last.
    stored: Option<u64>,
}

impl Throttle {
    /// Starts over from the stored cursor when it is not the one this server left (another
    /// server worked the consumer meanwhile, on a shared database): what was read ahead or
    /// folded here is read again from there.
    pub(super) fn resync(&mut self, stored: u64) {
        if self.stored != Some(stored) {
            self.read_to = stored;
            self.handled.clear();
            self.folded.clear();
            self.stored = Some(stored);
        }
    }

    /// The cursor was stored.
    pub(super) fn stored(&mut self, cursor: u64) {
        self.stored = Some(cursor);
    }

    fn room(&mut self, site: &str, now: i64) -> bool {
        let sent = self.sent.entry(site.to_owned()).or_default();
        while sent.front().is_some_and(|at| now - at >= HOUR_MS) {
            sent.pop_front();
        }
        sent.len() < OWNER_MAILS_PER_HOUR
    }

    fn spend(&mut self, site: &str, now: i64) {
        self.sent.entry(site.to_owned()).or_default().push_back(now);
    }

    /// Takes the notices of one read (changes after the stored cursor, or after `read_to`)
    /// and says what to mail now: each new notice alone while its site's hour has room, else
    /// folded; and every site's folded notices as one digest once its hour has room again.
    pub(super) fn plan(&mut self, notices: Vec<Notice>, now: i64) -> Plan {
        let mut plan = Plan::default();
        for notice in notices {
            if !self.handled.insert(notice.seq) {
                continue;
            }
            // A site with comments waiting folds the next ones too, keeping their order.
            if !self.folded.contains_key(&notice.site) && self.room(&notice.site, now) {
                self.spend(&notice.site, now);
                plan.singles.push(notice);
            } else {
                self.folded
                    .entry(notice.site.clone())
                    .or_default()
                    .push(notice);
            }
        }
        let due: Vec<String> = self.folded.keys().cloned().collect();
        for site in due {
            if self.room(&site, now) {
                self.spend(&site, now);
                if let Some(notices) = self.folded.remove(&site) {
                    plan.digests.push(notices);
                }
            }
        }
        plan
    }

    /// Where the stored cursor may move: before the first comment still waiting, or as far
    /// as the log was read. Forgets what it no longer needs to skip.
    pub(super) fn cursor(&mut self) -> u64 {
        let waiting = self
            .folded
            .values()
            .filter_map(|n| n.first())
            .map(|n| n.seq.saturating_sub(1))
            .min();
        let cursor = waiting.map_or(self.read_to, |w| w.min(self.read_to));
        self.handled = self.handled.split_off(&(cursor + 1));
        cursor
    }

    /// How long until a waiting digest may go (none waiting: `None`).
    pub(super) fn next_due(&self, now: i64) -> Option<std::time::Duration> {
        self.folded
            .keys()
            .filter_map(|site| self.sent.get(site)?.front())
            .map(|oldest| oldest + HOUR_MS - now)
            .min()
            .map(|ms| std::time::Duration::from_millis(u64::try_from(ms.max(0)).unwrap_or(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(seq: u64, site: &str) -> Notice {
        Notice {
            seq,
            at: 0,
            site: site.into(),
            owner: "owner@example.org".into(),
            page_key: "/p".into(),
            page_title: None,
            page_url: None,
            comment: serde_json::from_value(serde_json::json!({
                "id": seq, "author": "Ann", "avatar": "", "body": [], "created": 0
            }))
            .unwrap(),
            body_source: String::new(),
            email: None,
            held: false,
            held_for: Vec::new(),
        }
    }

    fn seqs(notices: &[Notice]) -> Vec<u64> {
        notices.iter().map(|n| n.seq).collect()
    }

    #[test]
    fn a_flood_is_mailed_singly_up_to_the_hours_share_then_as_one_digest_when_there_is_room() {
        let mut throttle = Throttle::default();
        let flood: Vec<Notice> = (1..=25).map(|seq| notice(seq, "blog")).collect();
        let plan = throttle.plan(flood, 0);
        assert_eq!(seqs(&plan.singles), (1..=20).collect::<Vec<_>>());
        assert!(plan.digests.is_empty());
        throttle.read_to = 25;
        assert_eq!(
            throttle.cursor(),
            20,
            "the stored cursor waits before the first folded one"
        );
        // Another site is not held up by this one's flood; the same changes read again (after
        // a turn that stored no cursor) are not mailed twice.
        let again: Vec<Notice> = (21..=25)
            .map(|seq| notice(seq, "blog"))
            .chain([notice(26, "news")])
            .collect();
        let plan = throttle.plan(again, 60_000);
        assert_eq!(seqs(&plan.singles), [26]);
        assert!(plan.digests.is_empty());
        throttle.read_to = 26;
        assert_eq!(throttle.cursor(), 20);
        assert_eq!(
            throttle.next_due(60_000),
            Some(std::time::Duration::from_millis((HOUR_MS - 60_000) as u64))
        );
        // An hour after the first mail there is room: one digest with every folded comment.
        let plan = throttle.plan(vec![notice(27, "blog")], HOUR_MS);
        assert!(plan.singles.is_empty());
        assert_eq!(plan.digests.len(), 1);
        assert_eq!(seqs(&plan.digests[0]), [21, 22, 23, 24, 25, 27]);
        throttle.read_to = 27;
        assert_eq!(throttle.cursor(), 27);
        assert_eq!(throttle.next_due(HOUR_MS), None);
    }
}
