//! Near-duplicate text: a MinHash sketch (the 64 smallest hashes of the word 3-shingles) of
//! an article, and the Jaccard similarity two sketches estimate. Wire copy republished by
//! several outlets with small edits scores high; different articles on the same topic score
//! near zero.

/// Hashes kept per sketch.
pub const SKETCH_SIZE: usize = 64;

/// Similarity from which two texts are the same story.
pub const SAME_STORY: f64 = 0.6;

/// Texts with fewer distinct shingles than this are too short to compare reliably.
pub const MIN_SHINGLES: usize = 8;

/// The sketch of a text; empty when the text is too short to compare.
pub fn sketch(text: &str) -> Vec<u64> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    if words.len() < 3 {
        return Vec::new();
    }
    let mut hashes: Vec<u64> = words
        .windows(3)
        .map(|shingle| fnv1a(shingle.join(" ").as_bytes()))
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    if hashes.len() < MIN_SHINGLES {
        return Vec::new();
    }
    hashes.truncate(SKETCH_SIZE);
    hashes
}

/// Estimated Jaccard similarity of the texts behind two sketches (0 when either is empty).
pub fn similarity(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    // Bottom-k estimate: among the k smallest hashes of the union, the share in both.
    let k = SKETCH_SIZE.min(a.len().max(b.len()));
    let (mut i, mut j, mut taken, mut shared) = (0, 0, 0, 0);
    while taken < k && (i < a.len() || j < b.len()) {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                shared += 1;
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => i += 1,
            (Some(_), Some(_)) => j += 1,
            (Some(_), None) => i += 1,
            (None, _) => j += 1,
        }
        taken += 1;
    }
    shared as f64 / taken.max(1) as f64
}

/// FNV-1a, 64 bits: stable across builds and platforms (sketches are stored).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIRE: &str = "NATO Secretary General Mark Rutte said on Thursday that any peace talks \
        must include Ukraine at the table, speaking to reporters in Brussels after a meeting \
        of foreign ministers. He added that allies would keep supplying air defence systems \
        through the winter and called on Russia to stop its attacks on energy infrastructure.";

    #[test]
    fn republished_wire_copy_is_the_same_story() {
        let edited = WIRE
            .replace("on Thursday", "on Thursday, 27 November,")
            .replace("reporters", "journalists");
        let s = similarity(&sketch(WIRE), &sketch(&format!("{edited} (Reuters)")));
        assert!(s >= SAME_STORY, "similarity {s}");
    }

    #[test]
    fn different_articles_on_the_same_topic_are_not() {
        let other = "Ukrainian President Volodymyr Zelensky met NATO Secretary General Mark Rutte \
            in Kyiv to discuss air defence, the reconstruction of the energy grid and the \
            schedule of the next Ramstein meeting, the presidential office said on Friday.";
        let s = similarity(&sketch(WIRE), &sketch(other));
        assert!(s < 0.2, "similarity {s}");
    }

    #[test]
    fn short_texts_are_not_compared() {
        assert!(sketch("Rutte urges peace talks").is_empty());
        assert_eq!(similarity(&[], &sketch(WIRE)), 0.0);
        let own = sketch(WIRE);
        assert!((similarity(&own, &own) - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn cyrillic_text_is_sketched() {
        let uk = "Генеральний секретар НАТО Марк Рютте заявив, що будь-які мирні переговори \
            мають відбуватися за участі України, повідомили журналістам у Брюсселі.";
        assert!(!sketch(uk).is_empty());
    }
}
