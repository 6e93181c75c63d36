//! The signed token behind both the proof of work and the form token: issued for one page of
//! one site, it carries when it was issued, when it expires, a random salt (which makes it
//! single-use) and the puzzle, all under an HMAC-SHA256 with the server's secret, so the
//! server keeps nothing per issued token and checks one in microseconds.
//!
//! Token: `base64url(claims JSON) "." base64url(HMAC)`; proof: `token "." number`, followed by
//! `".1"` when the widget's script found the form's honeypot filled in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use talkback_api::ChallengeResponse;

use crate::error::Error;

/// What a token says, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(rename = "s")]
    pub site: String,
    #[serde(rename = "p")]
    pub page_key: String,
    #[serde(rename = "i")]
    pub issued: i64,
    #[serde(rename = "e")]
    pub expires: i64,
    /// 16 random bytes, hex.
    #[serde(rename = "n")]
    pub salt: String,
    /// SHA-256 of the salt and the secret number, hex.
    #[serde(rename = "c")]
    pub challenge: String,
    #[serde(rename = "m")]
    pub max: u32,
}

/// A comment's proof, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// None was sent.
    Missing,
    /// Not a token this server signed, or not in the proof's shape.
    Forged,
    /// A token this server signed, with the number sent and whether it solves the puzzle.
    Signed {
        claims: Claims,
        salt: [u8; 16],
        solved: bool,
        /// The widget's script says the form's honeypot was filled in.
        trapped: bool,
    },
}

/// Issues and opens tokens with the server's secret.
pub struct Challenges {
    /// Keyed with the server's secret; cloned for each token.
    mac: Hmac<Sha256>,
}

/// The puzzle's hash: SHA-256 of the salt's hex followed by the number in decimal, hex.
pub(crate) fn puzzle_hash(salt_hex: &str, number: u64) -> String {
    hex::encode(Sha256::digest(format!("{salt_hex}{number}").as_bytes()))
}

impl Challenges {
    pub fn new(secret: &[u8]) -> Result<Self, talkback_store::Error> {
        let mac = Hmac::<Sha256>::new_from_slice(secret)
            .map_err(|e| talkback_store::Error::Internal(format!("form secret: {e}")))?;
        Ok(Self { mac })
    }

    /// A new token for a form on `page_key` of `site`, with a puzzle of `max` numbers.
    pub fn issue(
        &self,
        site: &str,
        page_key: &str,
        max: u32,
        lifetime_ms: i64,
        now: i64,
    ) -> Result<ChallengeResponse, Error> {
        let mut random = [0u8; 24];
        getrandom::fill(&mut random).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
        let salt = hex::encode(&random[..16]);
        let pick = u64::from_le_bytes(random[16..].try_into().unwrap_or_default());
        let number = pick % (u64::from(max) + 1);
        let claims = Claims {
            site: site.to_owned(),
            page_key: page_key.to_owned(),
            issued: now,
            expires: now.saturating_add(lifetime_ms),
            challenge: puzzle_hash(&salt, number),
            salt: salt.clone(),
            max,
        };
        let payload = B64.encode(serde_json::to_vec(&claims)?);
        let mut m = self.mac.clone();
        m.update(payload.as_bytes());
        let signature = B64.encode(m.finalize().into_bytes());
        Ok(ChallengeResponse {
            token: format!("{payload}.{signature}"),
            salt,
            challenge: claims.challenge,
            max,
            expires: claims.expires,
        })
    }

    /// Opens a proof (`token.number`): checks the signature and whether the number solves the
    /// puzzle. Whether it is in time, for this page and unused is the form token's check.
    pub fn open(&self, proof: Option<&str>) -> Opened {
        let Some(proof) = proof.filter(|p| !p.is_empty()) else {
            return Opened::Missing;
        };
        let mut parts = proof.splitn(4, '.');
        let (Some(payload), Some(signature), Some(number)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Opened::Forged;
        };
        let trapped = parts.next().is_some_and(|mark| !mark.is_empty());
        let Ok(signature) = B64.decode(signature) else {
            return Opened::Forged;
        };
        let mut m = self.mac.clone();
        m.update(payload.as_bytes());
        if m.verify_slice(&signature).is_err() {
            return Opened::Forged;
        }
        let claims: Option<Claims> = B64
            .decode(payload)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok());
        let Some(claims) = claims else {
            return Opened::Forged;
        };
        let salt = hex::decode(&claims.salt)
            .ok()
            .and_then(|b| <[u8; 16]>::try_from(b).ok());
        let Some(salt) = salt else {
            return Opened::Forged;
        };
        let solved = number
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= u64::from(claims.max))
            .is_some_and(|n| puzzle_hash(&claims.salt, n) == claims.challenge);
        Opened::Signed {
            claims,
            salt,
            solved,
            trapped,
        }
    }
}
