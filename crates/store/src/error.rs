//! Errors callers act on; everything else is an opaque backend or internal failure.

/// Why a reply's parent was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentProblem {
    Missing,
    OtherPage,
    TooDeep,
}

/// What was not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    Comment(u64),
    Page { site: String, key: String },
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missing::Comment(id) => write!(f, "comment {id}"),
            Missing::Page { site, key } => write!(f, "page {key:?} of site {site:?}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(Missing),
    /// Already there (an import source seen before), or lost a race the caller may retry.
    #[error("already exists or changed meanwhile")]
    Conflict,
    #[error("parent comment refused: {0:?}")]
    Parent(ParentProblem),
    /// The thread is locked: a reader's comment (one with no import source) is refused.
    #[error("the thread is locked")]
    Locked,
    /// The change log no longer holds the changes after the cursor.
    #[error("changes up to {through} were pruned")]
    Pruned { through: u64 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The backend failed (disk, a database's refusal).
    #[error("storage failure: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    /// The database cannot be reached now (down, restarting, the network cut): the request
    /// may succeed in a moment. A write that fails so was not acknowledged.
    #[error("storage unavailable: {0}")]
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
    /// The disk holding the database has no room for the write: nothing was written (the
    /// store refuses before it starts), and writes are accepted again once space comes back.
    #[error("the disk holding the database is full: {0}")]
    Full(String),
    /// A failure that is neither the data's nor the backend's (a poisoned lock).
    #[error("internal failure: {0}")]
    Internal(String),
}

impl Error {
    pub fn comment_not_found(id: u64) -> Self {
        Error::NotFound(Missing::Comment(id))
    }

    pub fn page_not_found(site: &str, key: &str) -> Self {
        Error::NotFound(Missing::Page {
            site: site.to_owned(),
            key: key.to_owned(),
        })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
