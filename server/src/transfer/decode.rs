//! What import files are made of: gzip (capped), text in UTF-8 or Windows-1252, and times.

/// Largest file an import decompresses to: a gzip bomb stops here instead of filling memory.
pub const MAX_DECOMPRESSED_BYTES: u64 = 1024 * 1024 * 1024;

/// The bytes of a file, decompressed when they are gzip (by their magic bytes), at most
/// [`MAX_DECOMPRESSED_BYTES`].
pub fn gunzip_if_gzip(bytes: Vec<u8>) -> std::io::Result<Vec<u8>> {
    gunzip_capped(bytes, MAX_DECOMPRESSED_BYTES)
}

pub(crate) fn gunzip_capped(bytes: Vec<u8>, cap: u64) -> std::io::Result<Vec<u8>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(
            flate2::read::GzDecoder::new(bytes.as_slice()),
            cap.saturating_add(1),
        ),
        &mut out,
    )?;
    if out.len() as u64 > cap {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("it decompresses to more than {cap} bytes"),
        ));
    }
    Ok(out)
}

/// Reads a file as text: UTF-8, or Windows-1252 when it is not (whatever its declaration says).
pub fn read_text(bytes: Vec<u8>) -> (String, bool) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, false),
        // Windows-1252, not Latin-1: its 0x80–0x9F are curly quotes, dashes and the euro
        // sign ("O’Brien"), where Latin-1 has invisible controls.
        Err(e) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(e.as_bytes());
            (text.into_owned(), true)
        }
    }
}

/// Parses RFC 3339 (`2024-03-14T10:00:00.123+01:00`) or `YYYY-MM-DD HH:MM:SS` (UTC, as
/// WordPress writes it) into Unix milliseconds; dates that do not exist (2024-02-31) are `None`.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Some(at.as_millisecond());
    }
    let civil: jiff::civil::DateTime = text.parse().ok()?;
    let at = jiff::tz::TimeZone::UTC.to_timestamp(civil).ok()?;
    Some(at.as_millisecond())
}
