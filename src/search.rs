//! Name search and the record-content index: sled trees derived from the
//! segments, filled by the store's indexing hook and rebuilt by `reindex`.
//!
//! Names reach us spelled many ways (with or without harakat, أ or ا, ة or ه,
//! "al-Halabi" or "Halabi", Mohammad or Muhammad), so both the index and the
//! query go through the same normalisation (docs/CSV.md §5) and search looks
//! up tokens, never scans records. The content tree counts records by a hash
//! of their normalised content, which is how `import-csv` recognises rows it
//! has already imported.

use std::collections::HashMap;

use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

use crate::canonical::to_canonical_bytes;
use crate::entry::{EntryId, SignedEntry};
use crate::record::Record;

/// Prefix of the BLAKE3 input that gives a record's content hash.
pub const CONTENT_HASH_DOMAIN: &[u8] = b"SIJILL-RECORD-CONTENT-V1\0";

/// Written by a full index build that filled these trees: an index built
/// before they existed lacks it and is rebuilt on open.
pub const INDEX_MARK: &[u8] = b"search-index-v1";

/// Most ids read for one query token: keeps a query on a very common name
/// (محمد) bounded in time; the caller is told when it was reached.
pub const MAX_HITS_PER_TOKEN: usize = 50_000;

const WORD: u8 = b'w';
const SKELETON: u8 = b's';

/// One normalised search token, in its two strengths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The normalised word: an exact match on it ranks first.
    pub word: String,
    /// For Latin script, the consonant skeleton that makes vowel spellings
    /// meet (Mohammad, Muhammad, Mohamed -> `mhmd`); `None` for Arabic, whose
    /// normalised form already is the skeleton.
    pub skeleton: Option<String>,
}

fn is_arabic_letter(c: char) -> bool {
    matches!(c, '\u{0620}'..='\u{064A}' | '\u{066E}'..='\u{06D3}' | '\u{06FA}'..='\u{06FC}')
}

/// Marks dropped from Arabic text: harakat, shadda, sukun, superscript alef,
/// Quranic annotation marks, and tatweel.
fn is_arabic_mark(c: char) -> bool {
    matches!(c, '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{06D6}'..='\u{06ED}' | '\u{0640}')
}

/// Arabic letter variants folded to one form (docs/CSV.md §5).
fn fold_arabic(c: char) -> char {
    match c {
        'أ' | 'إ' | 'آ' | 'ٱ' | 'ٲ' | 'ٳ' => 'ا',
        'ة' => 'ه',
        'ى' | 'ی' => 'ي',
        'ؤ' => 'و',
        'ئ' => 'ي',
        'ک' => 'ك',
        _ => c,
    }
}

/// Split a name into normalised tokens, in order, duplicates kept.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    // NFD so that Latin accents become separate marks we can drop; Arabic
    // hamza forms are recomposed below by the letter fold (NFD splits أ into
    // ا + U+0654, which is a mark and is dropped: the same result).
    for c in text.nfd() {
        if is_arabic_mark(c) || ('\u{0300}'..='\u{036F}').contains(&c) || c == '\u{0654}' {
            continue;
        }
        if matches!(c, '\'' | '’' | '‘' | '`' | 'ʿ' | 'ʾ' | 'ʼ') {
            continue;
        }
        if c.is_alphanumeric() {
            let c = fold_arabic(c);
            current.extend(c.to_lowercase());
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        // "al Khatib", "el Halabi": a lone article belongs to the next word.
        if (w == "al" || w == "el") && i + 1 < words.len() {
            i += 1;
            continue;
        }
        push_word(&mut out, w);
        i += 1;
    }
    out
}

fn push_word(out: &mut Vec<Token>, word: &str) {
    if word.chars().any(is_arabic_letter) {
        // عبدالله and عبد الله are the same name written two ways.
        if let Some(rest) = word.strip_prefix("عبد") {
            if rest.chars().count() >= 2 {
                push_arabic(out, "عبد");
                push_arabic(out, rest);
                return;
            }
        }
        push_arabic(out, word);
    } else {
        // The hyphen already split "al-Khatib" and a lone article is dropped by
        // the caller; "alkhatib" written as one word is left alone (too many
        // names start with "al": Ali, Alaa).
        out.push(Token {
            word: word.to_string(),
            skeleton: Some(skeleton(word)),
        });
    }
}

fn push_arabic(out: &mut Vec<Token>, word: &str) {
    let word = match word.strip_prefix("ال") {
        Some(rest) if rest.chars().count() >= 2 => rest,
        _ => word,
    };
    out.push(Token {
        word: word.to_string(),
        skeleton: None,
    });
}

/// The consonant skeleton of a Latin word: the first letter (any vowel as
/// `a`), then the consonants, doubled letters once, vowels and `h` after a
/// consonant kept only where they carry a consonant (`kh`, `sh`, `th`, `dh`,
/// `gh`).
pub fn skeleton(word: &str) -> String {
    let is_vowel = |c: char| matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y');
    let mut out = String::new();
    let mut last: Option<char> = None;
    for (i, c) in word.chars().enumerate() {
        let c = if i == 0 && is_vowel(c) && c != 'y' {
            'a'
        } else if i > 0 && is_vowel(c) {
            // "y" between consonants is a vowel (Husayn); at the start a
            // consonant (Yusuf).
            last = Some(c);
            continue;
        } else {
            c
        };
        if last == Some(c) {
            continue;
        }
        // ou/oo/ee/ei and similar disappear above; a trailing "h" after a
        // vowel ("Fatimah") is the ta marbuta and is dropped like the vowel.
        out.push(c);
        last = Some(c);
    }
    if out.len() > 1 && out.ends_with('h') {
        let before = word.chars().rev().nth(1);
        if before.is_some_and(is_vowel) {
            out.pop();
        }
    }
    out
}

/// The whole text normalised: tokens joined by one space. Used for equality
/// filters (`--governorate`) so that "Idlib" matches "idlib" and إدلب ادلب.
pub fn normalise(text: &str) -> String {
    tokens(text)
        .into_iter()
        .map(|t| t.word)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The content hash of a record (docs/CSV.md §4): BLAKE3 over a domain and
/// the canonical JSON of its kind and normalised body. Two records have the
/// same hash exactly when they hold the same normalised content.
pub fn content_hash(record: &Record) -> [u8; 32] {
    let mut m = Map::new();
    m.insert("kind".into(), Value::from(record.kind().as_str()));
    m.insert("body".into(), record.to_body());
    // A record body is always canonicalisable (no floats); the fallback only
    // keeps this total.
    let bytes = to_canonical_bytes(&Value::Object(m)).unwrap_or_default();
    let mut hasher = blake3::Hasher::new();
    hasher.update(CONTENT_HASH_DOMAIN);
    hasher.update(&bytes);
    *hasher.finalize().as_bytes()
}

/// Every name text of a record that search covers.
fn name_texts(record: &Record) -> Vec<&str> {
    let n = &record.person().name;
    let mut out: Vec<&str> = [
        &n.ar,
        &n.latin,
        &n.given,
        &n.father,
        &n.grandfather,
        &n.family,
        &n.laqab,
    ]
    .into_iter()
    .filter_map(|s| s.as_deref())
    .collect();
    out.extend(n.aliases.iter().map(String::as_str));
    out
}

/// The derived trees of this module, opened on the store's database.
#[derive(Clone)]
pub struct SearchIndex {
    /// class byte || token || 0 || entry id -> empty.
    tokens: sled::Tree,
    /// content hash -> number of records with it (u64 big-endian).
    content: sled::Tree,
}

/// One search result before the caller reads the entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub id: EntryId,
    /// Query tokens found in the record's names, exactly or by skeleton.
    pub matched: usize,
    /// Query tokens found as the same normalised word.
    pub exact: usize,
}

/// The ranked results of a query.
#[derive(Clone, Debug, Default)]
pub struct SearchResult {
    pub hits: Vec<Hit>,
    /// A token was so common that only the first [`MAX_HITS_PER_TOKEN`] ids
    /// were read for it.
    pub truncated: bool,
}

impl SearchIndex {
    pub fn open(db: &sled::Db) -> sled::Result<SearchIndex> {
        Ok(SearchIndex {
            tokens: db.open_tree("search-tokens")?,
            content: db.open_tree("record-content")?,
        })
    }

    /// Forget everything (the store rebuilds its index from the segments).
    pub fn clear(&self) -> sled::Result<()> {
        self.tokens.clear()?;
        self.content.clear()
    }

    /// Index one entry. Entries that are not records are ignored.
    pub fn add(&self, signed: &SignedEntry) -> sled::Result<()> {
        let Some(record) = signed.entry.record_body() else {
            return Ok(());
        };
        let mut batch = sled::Batch::default();
        for text in name_texts(record) {
            for token in tokens(text) {
                batch.insert(token_key(WORD, &token.word, &signed.id), &[][..]);
                if let Some(s) = &token.skeleton {
                    batch.insert(token_key(SKELETON, s, &signed.id), &[][..]);
                }
            }
        }
        self.tokens.apply_batch(batch)?;
        let hash = content_hash(record);
        self.content.update_and_fetch(hash, |old| {
            let n = old
                .and_then(|v| <[u8; 8]>::try_from(v).ok())
                .map_or(0, u64::from_be_bytes);
            Some((n + 1).to_be_bytes().to_vec())
        })?;
        Ok(())
    }

    /// How many records in the store have this content hash.
    pub fn content_count(&self, hash: &[u8; 32]) -> sled::Result<u64> {
        Ok(self
            .content
            .get(hash)?
            .and_then(|v| <[u8; 8]>::try_from(&v[..]).ok())
            .map_or(0, u64::from_be_bytes))
    }

    /// Records whose names hold the query's tokens, best first: more query
    /// tokens matched, then more matched exactly, then index order.
    pub fn search(&self, query: &str, limit: usize) -> sled::Result<SearchResult> {
        let mut query_tokens = tokens(query);
        query_tokens.dedup();
        let mut scores: HashMap<EntryId, (usize, usize)> = HashMap::new();
        let mut truncated = false;
        for token in &query_tokens {
            let mut found: HashMap<EntryId, bool> = HashMap::new();
            truncated |= self.scan(WORD, &token.word, |id| {
                found.insert(id, true);
            })?;
            if let Some(s) = &token.skeleton {
                truncated |= self.scan(SKELETON, s, |id| {
                    found.entry(id).or_insert(false);
                })?;
            }
            for (id, exact) in found {
                let score = scores.entry(id).or_default();
                score.0 += 1;
                score.1 += usize::from(exact);
            }
        }
        let mut hits: Vec<Hit> = scores
            .into_iter()
            .map(|(id, (matched, exact))| Hit { id, matched, exact })
            .collect();
        hits.sort_by(|a, b| {
            (b.matched, b.exact)
                .cmp(&(a.matched, a.exact))
                .then(a.id.cmp(&b.id))
        });
        hits.truncate(limit);
        Ok(SearchResult { hits, truncated })
    }

    /// Call `f` for each id under one token; true when the cap was reached.
    fn scan(&self, class: u8, token: &str, mut f: impl FnMut(EntryId)) -> sled::Result<bool> {
        let mut prefix = vec![class];
        prefix.extend_from_slice(token.as_bytes());
        prefix.push(0);
        for (n, item) in self.tokens.scan_prefix(&prefix).enumerate() {
            if n >= MAX_HITS_PER_TOKEN {
                return Ok(true);
            }
            let (key, _) = item?;
            if let Ok(id) = <[u8; 32]>::try_from(&key[prefix.len()..]) {
                f(EntryId(id));
            }
        }
        Ok(false)
    }
}

fn token_key(class: u8, token: &str, id: &EntryId) -> Vec<u8> {
    let mut key = Vec::with_capacity(token.len() + 34);
    key.push(class);
    key.extend_from_slice(token.as_bytes());
    key.push(0);
    key.extend_from_slice(&id.0);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        tokens(text).into_iter().map(|t| t.word).collect()
    }

    fn skeletons(text: &str) -> Vec<String> {
        tokens(text)
            .into_iter()
            .map(|t| t.skeleton.unwrap_or(t.word))
            .collect()
    }

    #[test]
    fn arabic_diacritics_and_tatweel_are_dropped() {
        assert_eq!(words("مُحَمَّد"), words("محمد"));
        assert_eq!(words("محـــمد"), vec!["محمد"]);
        assert_eq!(words("مُحَمَّدٌ"), vec!["محمد"]);
    }

    #[test]
    fn arabic_letter_variants_are_unified() {
        assert_eq!(words("أحمد"), vec!["احمد"]);
        assert_eq!(words("إبراهيم"), vec!["ابراهيم"]);
        assert_eq!(words("آمنة"), vec!["امنه"]);
        assert_eq!(words("ٱسماء"), vec!["اسماء"]);
        assert_eq!(words("فاطمة"), words("فاطمه"));
        assert_eq!(words("مصطفى"), words("مصطفي"));
        assert_eq!(words("مؤيد"), vec!["مويد"]);
        assert_eq!(words("هائل"), vec!["هايل"]);
        // Decomposed hamza (alef + U+0654) is the same as precomposed أ.
        assert_eq!(words("\u{0627}\u{0654}حمد"), words("أحمد"));
    }

    #[test]
    fn arabic_article_is_dropped() {
        assert_eq!(words("الحلبي"), vec!["حلبي"]);
        assert_eq!(words("محمد الحلبي"), words("محمد حلبي"));
        // Too short to be the article plus a word: kept.
        assert_eq!(words("ال"), vec!["ال"]);
        assert_eq!(words("عبدالرحمن"), words("عبد الرحمن"));
    }

    #[test]
    fn latin_case_articles_and_accents() {
        assert_eq!(words("Mohammad al-Halabi"), vec!["mohammad", "halabi"]);
        assert_eq!(words("MOHAMMAD El Halabi"), vec!["mohammad", "halabi"]);
        assert_eq!(words("Hélène"), vec!["helene"]);
        assert_eq!(words("Sa'id"), vec!["said"]);
        // "Ali" is a name, not an article.
        assert_eq!(words("Ali"), vec!["ali"]);
    }

    #[test]
    fn latin_vowel_variants_share_a_skeleton() {
        for name in ["Mohammad", "Muhammad", "Mohamed", "Mohammed", "Muhamad"] {
            assert_eq!(skeletons(name), vec!["mhmd"], "{name}");
        }
        assert_eq!(skeletons("Ahmad"), skeletons("Ahmed"));
        assert_eq!(skeletons("Yusuf"), skeletons("Youssef"));
        assert_eq!(skeletons("Hussein"), skeletons("Husayn"));
        assert_eq!(skeletons("Khaled"), skeletons("Khalid"));
        assert_eq!(skeletons("Fatima"), skeletons("Fatimah"));
        assert_ne!(skeletons("Khaled"), skeletons("Hamed"));
    }

    #[test]
    fn normalise_joins_tokens() {
        assert_eq!(normalise(" Idlib "), "idlib");
        assert_eq!(normalise("إدلب"), normalise("ادلب"));
        assert_eq!(normalise("ريف  دمشق"), "ريف دمشق");
    }
}
