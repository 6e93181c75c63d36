//! Serialised thread pages, cached until the next write to their page.
//!
//! Reads vastly outnumber writes, so a thread page is serialised (and compressed, when a
//! client asks) once and then served from memory with an ETag. Correctness rule: a cached
//! page never outlives a write that changed it. Every write bumps a generation and drops the
//! page's entries *before* the write is acknowledged; a reader may only store what it built
//! if no write happened anywhere while it was reading (the generation it saw at the start is
//! still current), so a slow reader can never cache a pre-write view after the write.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

/// Most pages kept; past this the cache starts over (cheap, and bounds memory).
const MAX_PAGES: usize = 4096;
/// Most variants (sort, cursor, language…) kept per page.
const MAX_VARIANTS: usize = 32;

/// One cached response body with its validator and lazily built compressed forms.
pub(crate) struct Cached {
    pub(crate) body: Vec<u8>,
    pub(crate) etag: String,
    pub(crate) total: u32,
    brotli: OnceLock<Vec<u8>>,
    gzip: OnceLock<Vec<u8>>,
}

impl Cached {
    pub(crate) fn new(body: Vec<u8>, total: u32) -> Self {
        let digest = Sha256::digest(&body);
        let etag = format!(
            "\"{}\"",
            digest
                .iter()
                .take(12)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        Self {
            body,
            etag,
            total,
            brotli: OnceLock::new(),
            gzip: OnceLock::new(),
        }
    }

    pub(crate) fn brotli(&self) -> &[u8] {
        self.brotli.get_or_init(|| {
            let mut out = Vec::with_capacity(self.body.len() / 4);
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                let _ = w.write_all(&self.body);
            }
            out
        })
    }

    pub(crate) fn gzip(&self) -> &[u8] {
        self.gzip.get_or_init(|| {
            let mut w = flate2::write::GzEncoder::new(
                Vec::with_capacity(self.body.len() / 4),
                flate2::Compression::new(6),
            );
            let _ = w.write_all(&self.body);
            w.finish().unwrap_or_default()
        })
    }
}

#[derive(Default)]
struct Inner {
    generation: u64,
    pages: HashMap<(String, String), HashMap<String, Arc<Cached>>>,
}

/// The cache shared by all workers.
#[derive(Default)]
pub(crate) struct ThreadCache {
    inner: Mutex<Inner>,
}

/// What a reader saw before reading the store.
#[derive(Clone, Copy)]
pub(crate) struct Ticket(u64);

impl ThreadCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves only cached bytes behind; keep serving.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A cached body, or a ticket to fill it after reading the store.
    pub(crate) fn get(&self, site: &str, page: &str, variant: &str) -> Result<Arc<Cached>, Ticket> {
        let inner = self.lock();
        inner
            .pages
            .get(&(site.to_owned(), page.to_owned()))
            .and_then(|v| v.get(variant))
            .cloned()
            .ok_or(Ticket(inner.generation))
    }

    /// Stores a body built under `ticket`, unless a write happened since.
    pub(crate) fn put(
        &self,
        ticket: Ticket,
        site: &str,
        page: &str,
        variant: &str,
        cached: Arc<Cached>,
    ) {
        let mut inner = self.lock();
        if inner.generation != ticket.0 {
            return;
        }
        if inner.pages.len() >= MAX_PAGES {
            inner.pages.clear();
        }
        let variants = inner
            .pages
            .entry((site.to_owned(), page.to_owned()))
            .or_default();
        if variants.len() >= MAX_VARIANTS {
            variants.clear();
        }
        variants.insert(variant.to_owned(), cached);
    }

    /// Called after a write to a page and before acknowledging it.
    pub(crate) fn invalidate(&self, site: &str, page: &str) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.pages.remove(&(site.to_owned(), page.to_owned()));
    }
}
