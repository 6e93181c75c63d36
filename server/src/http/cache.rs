//! Serialised thread pages, cached until the next write to their page, within a byte budget.
//!
//! Reads vastly outnumber writes, so a thread page is serialised (and compressed in the
//! encoding a client asked for) once and then served from memory with an ETag. Correctness
//! rule: a cached page never outlives a write that changed it. Every write bumps a generation
//! and drops the page's entries *before* the write is acknowledged; a reader may only store
//! what it built if no write happened anywhere while it was reading (the generation it saw at
//! the start is still current), so a slow reader can never cache a pre-write view after the
//! write.
//!
//! Memory rule: the bytes of every cached body and compressed twin count against one budget;
//! past it, the least recently used pages go first. Callers build keys from normalised values
//! and never cache pages that do not exist, so junk requests cannot crowd out real threads.

use std::io::Write;
use std::sync::{Arc, Mutex};

use actix_web::web::Bytes;
use lru::LruCache;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use sha2::{Digest, Sha256};

/// Most variants (sort, cursor, language, title…) kept per page; the least recently used
/// goes first.
const MAX_VARIANTS: usize = 32;

/// A compressed form of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity,
    Brotli,
    Gzip,
}

/// One cached response body with its validator and the compressed forms built so far.
pub(crate) struct Cached {
    pub(crate) body: Bytes,
    pub(crate) etag: String,
    pub(crate) total: u32,
    brotli: Option<Bytes>,
    gzip: Option<Bytes>,
}

impl Cached {
    pub(crate) fn new(body: Vec<u8>, total: u32) -> Self {
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", hex::encode(&digest[..12]));
        Self {
            body: body.into(),
            etag,
            total,
            brotli: None,
            gzip: None,
        }
    }

    /// The body in `encoding`, if built.
    pub(crate) fn encoded(&self, encoding: Encoding) -> Option<&Bytes> {
        match encoding {
            Encoding::Identity => Some(&self.body),
            Encoding::Brotli => self.brotli.as_ref(),
            Encoding::Gzip => self.gzip.as_ref(),
        }
    }

    /// A copy that also holds the body in `encoding` (the body itself is shared, not copied).
    pub(crate) fn with(&self, encoding: Encoding) -> Self {
        let mut copy = Self {
            body: self.body.clone(),
            etag: self.etag.clone(),
            total: self.total,
            brotli: self.brotli.clone(),
            gzip: self.gzip.clone(),
        };
        match encoding {
            Encoding::Identity => {}
            Encoding::Brotli if copy.brotli.is_none() => {
                let mut out = Vec::with_capacity(self.body.len() / 4);
                {
                    let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                    let _ = w.write_all(&self.body);
                }
                copy.brotli = Some(out.into());
            }
            Encoding::Gzip if copy.gzip.is_none() => {
                let mut w = flate2::write::GzEncoder::new(
                    Vec::with_capacity(self.body.len() / 4),
                    flate2::Compression::new(6),
                );
                let _ = w.write_all(&self.body);
                copy.gzip = Some(w.finish().unwrap_or_default().into());
            }
            Encoding::Brotli | Encoding::Gzip => {}
        }
        copy
    }

    /// Bytes held, compressed twins included.
    fn size(&self) -> usize {
        self.body.len()
            + self.etag.len()
            + self.brotli.as_ref().map_or(0, Bytes::len)
            + self.gzip.as_ref().map_or(0, Bytes::len)
    }
}

/// The variants of one page, most recently used last.
#[derive(Default)]
struct Page {
    variants: Vec<(String, Arc<Cached>)>,
    bytes: usize,
}

impl Page {
    fn touch(&mut self, i: usize) -> Arc<Cached> {
        let entry = self.variants.remove(i);
        let cached = Arc::clone(&entry.1);
        self.variants.push(entry);
        cached
    }
}

struct Inner {
    generation: u64,
    pages: LruCache<(String, String), Page>,
    bytes: usize,
    /// Comment counts of a set of pages (index pages ask for the same sets again and again),
    /// keyed by site and the normalised keys; dropped for the whole site on any write to it.
    counts: LruCache<(String, String), Arc<Vec<u32>>>,
    /// Whole answers to counts requests, by the request body's exact bytes, with the site they
    /// are of: index pages send the very same request again and again, which then costs no
    /// parsing or normalising. Small bodies only, few of them, dropped with the site's counts:
    /// a junk body costs a full read (against the read budget) and pushes out another memo,
    /// nothing more.
    answers: LruCache<Bytes, (String, Bytes)>,
}

/// Counts answers kept, and the largest request and answer kept.
const ANSWER_ENTRIES: usize = 512;
const MAX_ANSWER_PART: usize = 4 * 1024;

/// Sets of counts kept (each at most 100 numbers).
const COUNTS_ENTRIES: usize = 1024;

/// The cache shared by all workers.
pub(crate) struct ThreadCache {
    inner: Mutex<Inner>,
    budget: usize,
    metrics: CacheMetrics,
}

/// What the cache does, as `/metrics` reports it (shared handles; `ops` registers them).
#[derive(Clone, Default)]
pub(crate) struct CacheMetrics {
    /// Reads answered from the cache (in any encoding).
    pub(crate) hits: Counter,
    /// Reads the store had to answer.
    pub(crate) misses: Counter,
    /// Pages dropped to stay within the budget (writes' invalidations are not counted).
    pub(crate) evictions: Counter,
    /// Bytes held: bodies, compressed twins and bookkeeping.
    pub(crate) bytes: Gauge,
    /// Pages held.
    pub(crate) pages: Gauge,
}

/// What a reader saw before reading the store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(u64);

/// Per-entry overhead beyond the bodies (keys, bookkeeping), counted against the budget.
const ENTRY_OVERHEAD: usize = 256;

impl ThreadCache {
    /// A cache holding at most `budget` bytes.
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                generation: 0,
                pages: LruCache::unbounded(),
                bytes: 0,
                counts: LruCache::unbounded(),
                answers: LruCache::unbounded(),
            }),
            budget,
            metrics: CacheMetrics::default(),
        }
    }

    pub(crate) fn metrics(&self) -> &CacheMetrics {
        &self.metrics
    }

    /// Publishes what `inner` holds now.
    fn held(&self, inner: &Inner) {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.metrics.bytes.set(gauge(inner.bytes));
        self.metrics.pages.set(gauge(inner.pages.len()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves only cached bytes behind; keep serving.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A cached body, or none; either way with a ticket to store a body built from what was
    /// read now (a copy of the hit in another encoding, or a page read from the store).
    pub(crate) fn get(
        &self,
        site: &str,
        page: &str,
        variant: &str,
    ) -> (Option<Arc<Cached>>, Ticket) {
        let mut inner = self.lock();
        let ticket = Ticket(inner.generation);
        let hit = inner
            .pages
            .get_mut(&(site.to_owned(), page.to_owned()))
            .and_then(|entry| {
                let i = entry.variants.iter().position(|(v, _)| v == variant)?;
                Some(entry.touch(i))
            });
        match hit {
            Some(_) => self.metrics.hits.inc(),
            None => self.metrics.misses.inc(),
        };
        (hit, ticket)
    }

    /// Cached counts of `pages` (normalised keys, as one string), with a ticket as for `get`.
    pub(crate) fn get_counts(&self, site: &str, pages: &str) -> (Option<Arc<Vec<u32>>>, Ticket) {
        let mut inner = self.lock();
        let ticket = Ticket(inner.generation);
        let hit = inner
            .counts
            .get(&(site.to_owned(), pages.to_owned()))
            .cloned();
        match hit {
            Some(_) => self.metrics.hits.inc(),
            None => self.metrics.misses.inc(),
        };
        (hit, ticket)
    }

    /// Stores counts read under `ticket`, unless a write happened since.
    pub(crate) fn put_counts(
        &self,
        ticket: Ticket,
        site: &str,
        pages: &str,
        counts: Arc<Vec<u32>>,
    ) {
        let mut inner = self.lock();
        if inner.generation != ticket.0 {
            return;
        }
        inner
            .counts
            .put((site.to_owned(), pages.to_owned()), counts);
        while inner.counts.len() > COUNTS_ENTRIES {
            inner.counts.pop_lru();
        }
    }

    /// The answer given to a counts request with exactly this body, if still current.
    pub(crate) fn counts_answer(&self, body: &[u8]) -> Option<Bytes> {
        let mut inner = self.lock();
        let hit = inner.answers.get(body).map(|(_, answer)| answer.clone());
        // A miss here is counted by the lookup of the numbers that follows.
        if hit.is_some() {
            self.metrics.hits.inc();
        }
        hit
    }

    /// Keeps the answer to a counts request of `site` made under `ticket` (unless a write
    /// happened since, or either part is large).
    pub(crate) fn keep_counts_answer(
        &self,
        ticket: Ticket,
        site: &str,
        body: Bytes,
        answer: Bytes,
    ) {
        if body.len() > MAX_ANSWER_PART || answer.len() > MAX_ANSWER_PART {
            return;
        }
        let mut inner = self.lock();
        if inner.generation != ticket.0 {
            return;
        }
        inner.answers.put(body, (site.to_owned(), answer));
        while inner.answers.len() > ANSWER_ENTRIES {
            inner.answers.pop_lru();
        }
    }

    /// Drops every set of counts of `site`, and the answers made of them.
    fn drop_counts(inner: &mut Inner, site: &str) {
        let stale: Vec<(String, String)> = inner
            .counts
            .iter()
            .filter(|((s, _), _)| s == site)
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            inner.counts.pop(&key);
        }
        let stale: Vec<Bytes> = inner
            .answers
            .iter()
            .filter(|(_, (s, _))| s == site)
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            inner.answers.pop(&key);
        }
    }

    /// Stores a body built under `ticket`, unless a write happened since; replaces the same
    /// variant (a copy with another encoding built, say) when it is still current.
    pub(crate) fn put(
        &self,
        ticket: Ticket,
        site: &str,
        page: &str,
        variant: &str,
        cached: Arc<Cached>,
    ) {
        let size = cached.size() + variant.len() + ENTRY_OVERHEAD;
        // One body larger than a quarter of the budget would evict too much: serve it uncached.
        if size > self.budget / 4 {
            return;
        }
        let mut inner = self.lock();
        if inner.generation != ticket.0 {
            return;
        }
        let key = (site.to_owned(), page.to_owned());
        if !inner.pages.contains(&key) {
            inner.bytes += key.0.len() + key.1.len() + ENTRY_OVERHEAD;
            inner.pages.put(key.clone(), Page::default());
        }
        let mut freed = 0;
        let mut added = size;
        if let Some(entry) = inner.pages.get_mut(&key) {
            if let Some(i) = entry.variants.iter().position(|(v, _)| v == variant) {
                let (v, old) = entry.variants.remove(i);
                freed += old.size() + v.len() + ENTRY_OVERHEAD;
            }
            if entry.variants.len() >= MAX_VARIANTS {
                let (v, old) = entry.variants.remove(0);
                freed += old.size() + v.len() + ENTRY_OVERHEAD;
            }
            entry.variants.push((variant.to_owned(), cached));
            entry.bytes = entry.bytes + size - freed;
        } else {
            added = 0;
        }
        inner.bytes = inner.bytes + added - freed;
        while inner.bytes > self.budget {
            let Some(((site, page), evicted)) = inner.pages.pop_lru() else {
                break;
            };
            inner.bytes = inner
                .bytes
                .saturating_sub(evicted.bytes + site.len() + page.len() + ENTRY_OVERHEAD);
            self.metrics.evictions.inc();
        }
        self.held(&inner);
    }

    /// A ticket for a reader starting now.
    #[cfg(test)]
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.lock().generation)
    }

    /// Called after a write to a page and before acknowledging it.
    pub(crate) fn invalidate(&self, site: &str, page: &str) {
        let mut inner = self.lock();
        inner.generation += 1;
        Self::drop_counts(&mut inner, site);
        if let Some(entry) = inner.pages.pop(&(site.to_owned(), page.to_owned())) {
            inner.bytes = inner
                .bytes
                .saturating_sub(entry.bytes + site.len() + page.len() + ENTRY_OVERHEAD);
        }
        self.held(&inner);
    }

    /// Drops every page of a site (its settings changed, e.g. it became read-only).
    pub(crate) fn invalidate_site(&self, site: &str) {
        let mut inner = self.lock();
        inner.generation += 1;
        Self::drop_counts(&mut inner, site);
        let keys: Vec<(String, String)> = inner
            .pages
            .iter()
            .filter(|((s, _), _)| s == site)
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            if let Some(entry) = inner.pages.pop(&key) {
                inner.bytes = inner
                    .bytes
                    .saturating_sub(entry.bytes + key.0.len() + key.1.len() + ENTRY_OVERHEAD);
            }
        }
        self.held(&inner);
    }

    /// Bytes held now (bodies, twins and bookkeeping).
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(n: usize) -> Arc<Cached> {
        Arc::new(Cached::new(vec![b'x'; n], 1))
    }

    #[test]
    fn the_cache_stays_within_its_byte_budget_and_evicts_least_recently_used_pages() {
        let cache = ThreadCache::new(100_000);
        for page in 0..50 {
            let t = cache.ticket();
            cache.put(t, "s", &format!("/p{page}"), "v", body(10_000));
            // Page 0 stays in use, so it survives.
            assert!(cache.get("s", "/p0", "v").0.is_some(), "after page {page}");
            assert!(cache.bytes() <= 100_000, "{} bytes", cache.bytes());
        }
        assert!(cache.get("s", "/p49", "v").0.is_some());
        assert!(cache.get("s", "/p1", "v").0.is_none());
        // Too large for the budget: served, never cached.
        let t = cache.ticket();
        cache.put(t, "s", "/huge", "v", body(60_000));
        assert!(cache.get("s", "/huge", "v").0.is_none());
    }

    #[test]
    fn variants_of_a_page_are_capped_and_replacing_one_keeps_the_count_exact() {
        let cache = ThreadCache::new(10_000_000);
        for v in 0..100 {
            let t = cache.ticket();
            cache.put(t, "s", "/p", &format!("v{v}"), body(1_000));
        }
        assert!(cache.bytes() < (MAX_VARIANTS + 1) * (1_000 + 2 * ENTRY_OVERHEAD + 40));
        let before = cache.bytes();
        let (hit, t) = cache.get("s", "/p", "v99");
        cache.put(
            t,
            "s",
            "/p",
            "v99",
            Arc::new(hit.unwrap().with(Encoding::Gzip)),
        );
        let grown = cache.bytes() - before;
        assert!(
            grown > 0 && grown < 200,
            "only the gzip twin is added: {grown}"
        );
        cache.invalidate("s", "/p");
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn a_write_during_a_read_keeps_the_stale_page_out() {
        let cache = ThreadCache::new(1_000_000);
        let t = cache.ticket();
        cache.invalidate("s", "/other");
        cache.put(t, "s", "/p", "v", body(10));
        assert!(cache.get("s", "/p", "v").0.is_none());
    }

    #[test]
    fn a_hit_recompressed_after_a_write_is_not_stored_again() {
        let cache = ThreadCache::new(1_000_000);
        let t = cache.ticket();
        cache.put(t, "s", "/p", "v", body(10));
        let (hit, ticket) = cache.get("s", "/p", "v");
        cache.invalidate("s", "/p"); // a write lands while the hit is being compressed
        cache.put(
            ticket,
            "s",
            "/p",
            "v",
            Arc::new(hit.unwrap().with(Encoding::Brotli)),
        );
        assert!(
            cache.get("s", "/p", "v").0.is_none(),
            "the pre-write copy stays out"
        );
    }
}
