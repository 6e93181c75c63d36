//! Identicons: a 5×5 mirrored pattern and a hue from a comment's avatar seed, drawn locally
//! by the widget and the server alike, so no third-party avatar service sees readers.

/// A 5×5 pattern (row-major, `true` = filled) and its hue in degrees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identicon {
    pub cells: [bool; 25],
    pub hue: u16,
}

impl Identicon {
    /// Derives the pattern from a hex seed (any length; missing digits count as zero).
    pub fn from_seed(seed: &str) -> Self {
        let mut bits: u32 = 0;
        for (i, c) in seed.chars().take(8).enumerate() {
            bits |= c.to_digit(16).unwrap_or(0) << (28 - 4 * i);
        }
        let mut cells = [false; 25];
        // 15 bits choose the left three columns; the right two mirror them.
        for row in 0..5 {
            for col in 0..3 {
                let on = bits >> (row * 3 + col) & 1 == 1;
                cells[row * 5 + col] = on;
                cells[row * 5 + 4 - col] = on;
            }
        }
        let hue = u16::try_from((bits >> 16) % 360).unwrap_or(0);
        Self { cells, hue }
    }

    /// The filled cells as (column, row) pairs.
    pub fn filled(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.cells
            .iter()
            .enumerate()
            .filter(|(_, on)| **on)
            .map(|(i, _)| (i % 5, i / 5))
    }
}
