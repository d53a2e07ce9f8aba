//! Name search and the record-content index: sled trees derived from the
//! segments, filled by the store's indexing hook and rebuilt by `reindex`.
//!
//! Names reach us spelled many ways (with or without harakat, أ or ا, ة or ه,
//! "al-Halabi" or "Halabi", Mohammad or Muhammad), so both the index and the
//! query go through the same normalisation (docs/CSV.md §5) and search looks
//! up tokens, never scans records. The content tree counts records by a hash
//! of their normalised content, which is how `import-csv` recognises rows it
//! has already imported.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

use crate::canonical::to_canonical_bytes;
use crate::entry::{EntryId, SignedEntry};
use crate::record::Record;

/// Prefix of the BLAKE3 input that gives a record's content hash.
pub const CONTENT_HASH_DOMAIN: &[u8] = b"SIJILL-RECORD-CONTENT-V1\0";

/// Most records read for one query token: keeps a query bounded in time and
/// memory even on a name that nearly every record holds; the caller is told
/// when it was reached.
pub const MAX_HITS_PER_TOKEN: usize = 2_000_000;

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

/// Sequence numbers per postings value: a value holds the positions within
/// one such range of one log, as 2-byte integers.
const SEQS_PER_POSTING: u64 = 4096;

/// Where a record sits in the index: the store's number for its log (see
/// [`SearchIndex::log_number`]) and its sequence number. Ordered as the
/// index is, which is the order ties are ranked in.
pub type Position = (u32, u64);

/// What indexing one record adds: its name tokens (class byte, then the
/// token) and its content hash. Computed apart from the index so that it can
/// run on every core.
#[derive(Clone, Debug)]
pub struct RecordKeys {
    tokens: Vec<Vec<u8>>,
    content: [u8; 32],
}

/// The keys of a record entry; `None` for entries that are not records.
pub fn record_keys(signed: &SignedEntry) -> Option<RecordKeys> {
    let record = signed.entry.record_body()?;
    let mut tokens = Vec::new();
    for text in name_texts(record) {
        for token in self::tokens(text) {
            tokens.push(token_prefix(WORD, &token.word));
            if let Some(s) = &token.skeleton {
                tokens.push(token_prefix(SKELETON, s));
            }
        }
    }
    tokens.sort_unstable();
    tokens.dedup();
    let content = content_hash_in_entry(&signed.bytes, signed.entry.kind.as_str())
        .unwrap_or_else(|| content_hash(record));
    Some(RecordKeys { tokens, content })
}

/// The content hash of the record an entry holds, from the entry's own bytes.
/// A canonical entry begins `{"body":B,"kind":"K"` (its keys are sorted), and
/// the canonical JSON that [`content_hash`] hashes is `{"body":B,"kind":"K"}`:
/// the same bytes with `}` after them. Reading them here saves building and
/// canonicalising the body a second time. `None` when the bytes do not have
/// that shape.
fn content_hash_in_entry(bytes: &[u8], kind: &str) -> Option<[u8; 32]> {
    const START: &[u8] = b"{\"body\":";
    let body = bytes.strip_prefix(START)?;
    if body.first() != Some(&b'{') {
        return None;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut end = None;
    for (i, &b) in body.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    end = Some(i + 1);
                    break;
                }
            }
            _ => {}
        }
    }
    let end = START.len() + end?;
    let kind_field = format!(",\"kind\":\"{kind}\"");
    if !bytes[end..].starts_with(kind_field.as_bytes()) {
        return None;
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update(CONTENT_HASH_DOMAIN);
    hasher.update(&bytes[..end + kind_field.len()]);
    hasher.update(b"}");
    Some(*hasher.finalize().as_bytes())
}

/// Postings and content hashes gathered for one commit.
#[derive(Default)]
pub struct SearchBatch {
    postings: BTreeMap<Vec<u8>, Vec<u16>>,
    /// Content hash -> (log number, seq), for the store's content table.
    pub content: Vec<crate::digest_table::Item>,
}

impl SearchBatch {
    pub fn add(&mut self, (log_number, seq): Position, keys: &RecordKeys) {
        let chunk = seq / SEQS_PER_POSTING;
        let within = (seq % SEQS_PER_POSTING) as u16;
        for token in &keys.tokens {
            let mut key = Vec::with_capacity(token.len() + 12);
            key.extend_from_slice(token);
            key.extend_from_slice(&log_number.to_be_bytes());
            key.extend_from_slice(&chunk.to_be_bytes());
            self.postings.entry(key).or_default().push(within);
        }
        let mut at = [0u8; crate::digest_table::PAYLOAD_LEN];
        at[..4].copy_from_slice(&log_number.to_be_bytes());
        at[4..12].copy_from_slice(&seq.to_be_bytes());
        self.content.push((keys.content, at));
    }
}

/// The derived trees of this module, opened on the store's database.
#[derive(Clone)]
pub struct SearchIndex {
    /// class byte || token || 0 || log number || seq / 4096 (big-endian) ->
    /// the positions (seq % 4096) of the records holding the token, sorted,
    /// 2 bytes little-endian each.
    tokens: sled::Tree,
    /// log key -> its number (u32 big-endian), and the number -> the log key.
    log_numbers: sled::Tree,
    /// The store's ids by sequence number (chunked, src/index.rs), to name
    /// the records found.
    seqs: sled::Tree,
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
    /// A token was so common that only the first [`MAX_HITS_PER_TOKEN`]
    /// records were read for it.
    pub truncated: bool,
}

const NEXT_LOG_NUMBER: &[u8] = b"next-log-number";

impl SearchIndex {
    pub fn open(db: &sled::Db) -> sled::Result<SearchIndex> {
        Ok(SearchIndex {
            tokens: db.open_tree("search-postings")?,
            log_numbers: db.open_tree("log-numbers")?,
            seqs: db.open_tree("seqs")?,
        })
    }

    /// Forget everything (the store rebuilds its index from the segments).
    pub fn clear(&self) -> sled::Result<()> {
        self.tokens.clear()?;
        self.log_numbers.clear()
    }

    /// The index's short number for a log, given the first time the log is
    /// indexed. Postings name records by (number, seq), 12 bytes rather than
    /// a 32-byte id.
    pub fn log_number(&self, log: &[u8; 32]) -> sled::Result<u32> {
        if let Some(n) = self.log_numbers.get(log)? {
            if let Ok(n) = <[u8; 4]>::try_from(&n[..]) {
                return Ok(u32::from_be_bytes(n));
            }
        }
        let next = self
            .log_numbers
            .get(NEXT_LOG_NUMBER)?
            .and_then(|v| <[u8; 4]>::try_from(&v[..]).ok())
            .map_or(0, u32::from_be_bytes);
        let mut batch = sled::Batch::default();
        batch.insert(&next.to_be_bytes()[..], &log[..]);
        batch.insert(&log[..], &next.to_be_bytes()[..]);
        batch.insert(NEXT_LOG_NUMBER, &(next + 1).to_be_bytes()[..]);
        self.log_numbers.apply_batch(batch)?;
        // Durable before anything that uses the number (a digest table page
        // may reach the disk before sled's next flush): a number must never
        // come back naming another log.
        self.log_numbers.flush()?;
        Ok(next)
    }

    /// Write what a batch gathered: each postings value touched is read
    /// once, merged (a set union, so indexing an entry twice changes
    /// nothing) and written once.
    pub fn commit(&self, batch: SearchBatch) -> sled::Result<()> {
        let mut writes = sled::Batch::default();
        for (key, mut positions) in batch.postings {
            if let Some(old) = self.tokens.get(&key)? {
                positions.extend(
                    old.chunks_exact(2)
                        .map(|p| u16::from_le_bytes([p[0], p[1]])),
                );
            }
            positions.sort_unstable();
            positions.dedup();
            let value: Vec<u8> = positions.iter().flat_map(|p| p.to_le_bytes()).collect();
            writes.insert(key, value);
        }
        self.tokens.apply_batch(writes)
    }

    /// Every log number given so far, with its log.
    pub fn log_numbers(&self) -> sled::Result<Vec<(u32, [u8; 32])>> {
        let mut out = Vec::new();
        for item in self.log_numbers.iter() {
            let (k, v) = item?;
            if let (Ok(n), Ok(log)) = (<[u8; 4]>::try_from(&k[..]), <[u8; 32]>::try_from(&v[..])) {
                out.push((u32::from_be_bytes(n), log));
            }
        }
        Ok(out)
    }

    /// Records whose names hold the query's tokens, best first: more query
    /// tokens matched, then more matched exactly, then index order.
    pub fn search(&self, query: &str, limit: usize) -> sled::Result<SearchResult> {
        let mut query_tokens = tokens(query);
        query_tokens.dedup();
        // (position, tokens matched, tokens matched exactly), sorted by
        // position; each token's postings arrive sorted, so combining them is
        // a merge, never a hash table.
        let mut scored: Vec<(Position, u16, u16)> = Vec::new();
        let mut truncated = false;
        for token in &query_tokens {
            let (words, cut) = self.postings(WORD, &token.word)?;
            truncated |= cut;
            let skeletons = match &token.skeleton {
                Some(s) => {
                    let (found, cut) = self.postings(SKELETON, s)?;
                    truncated |= cut;
                    found
                }
                None => Vec::new(),
            };
            let this = merge_token(&words, &skeletons);
            scored = merge_scores(&scored, &this);
        }
        let rank = |a: &(Position, u16, u16), b: &(Position, u16, u16)| {
            (b.1, b.2).cmp(&(a.1, a.2)).then(a.0.cmp(&b.0))
        };
        if scored.len() > limit && limit > 0 {
            scored.select_nth_unstable_by(limit - 1, rank);
        }
        scored.truncate(limit);
        scored.sort_by(rank);
        let mut hits = Vec::with_capacity(scored.len());
        for ((log_number, seq), matched, exact) in scored {
            if let Some(id) = self.id_at(log_number, seq)? {
                hits.push(Hit {
                    id,
                    matched: usize::from(matched),
                    exact: usize::from(exact),
                });
            }
        }
        Ok(SearchResult { hits, truncated })
    }

    fn id_at(&self, log_number: u32, seq: u64) -> sled::Result<Option<EntryId>> {
        let Some(log) = self.log_numbers.get(log_number.to_be_bytes())? else {
            return Ok(None);
        };
        let Ok(log) = <[u8; 32]>::try_from(&log[..]) else {
            return Ok(None);
        };
        Ok(crate::index::read_item(&self.seqs, crate::index::id_chunk(&log, seq))?.map(EntryId))
    }

    /// The positions of the records holding one token, in index order; true
    /// when the cap was reached.
    fn postings(&self, class: u8, token: &str) -> sled::Result<(Vec<Position>, bool)> {
        let prefix = token_prefix(class, token);
        let mut out = Vec::new();
        for item in self.tokens.scan_prefix(&prefix) {
            let (key, value) = item?;
            let rest = &key[prefix.len()..];
            let (Ok(number), Ok(chunk)) = (
                <[u8; 4]>::try_from(&rest[..rest.len().min(4)]),
                <[u8; 8]>::try_from(rest.get(4..).unwrap_or_default()),
            ) else {
                continue;
            };
            let number = u32::from_be_bytes(number);
            let base = u64::from_be_bytes(chunk) * SEQS_PER_POSTING;
            for p in value.chunks_exact(2) {
                if out.len() >= MAX_HITS_PER_TOKEN {
                    return Ok((out, true));
                }
                out.push((number, base + u64::from(u16::from_le_bytes([p[0], p[1]]))));
            }
        }
        Ok((out, false))
    }
}

/// One query token's matches: by word (exact) or only by skeleton.
fn merge_token(words: &[Position], skeletons: &[Position]) -> Vec<(Position, u16, u16)> {
    let mut out = Vec::with_capacity(words.len().max(skeletons.len()));
    let (mut i, mut j) = (0, 0);
    while i < words.len() || j < skeletons.len() {
        match (words.get(i), skeletons.get(j)) {
            (Some(w), Some(s)) if w == s => {
                out.push((*w, 1, 1));
                i += 1;
                j += 1;
            }
            (Some(w), Some(s)) if w < s => {
                out.push((*w, 1, 1));
                i += 1;
            }
            (Some(w), None) => {
                out.push((*w, 1, 1));
                i += 1;
            }
            (_, Some(s)) => {
                out.push((*s, 1, 0));
                j += 1;
            }
            (None, None) => break,
        }
    }
    out
}

/// Add one token's matches to the scores so far (both sorted by position).
fn merge_scores(
    a: &[(Position, u16, u16)],
    b: &[(Position, u16, u16)],
) -> Vec<(Position, u16, u16)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        match x.0.cmp(&y.0) {
            std::cmp::Ordering::Less => {
                out.push(x);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(y);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push((x.0, x.1 + y.1, x.2 + y.2));
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

fn token_prefix(class: u8, token: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(token.len() + 14);
    key.push(class);
    key.extend_from_slice(token.as_bytes());
    key.push(0);
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
    fn content_hash_read_from_the_entry_equals_the_record_hash() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        for (i, json) in [
            r#"{"name": {"ar": "محمد \"الحلبي\" {x}", "latin": "Muhammad [al-Halabi]"}, "date_of_death": "2018-01-24", "sources": [{"type": "eyewitness", "reference": "a \\ b }", "reliability": "high"}], "sensitivity": "public"}"#,
            r#"{"name": {"ar": "فاطمة"}, "date_of_death": "2019", "sources": [{"type": "media"}], "sensitivity": "internal", "notes": ",\"kind\":\"casualty\""}"#,
        ]
        .iter()
        .enumerate()
        {
            let record = crate::record::parse_record(
                crate::record::RecordKind::Casualty,
                json.as_bytes(),
                time::macros::date!(2026 - 01 - 01),
            )
            .unwrap_or_else(|e| panic!("record {i}: {e}"));
            let signed = crate::entry::Entry::new(
                key.verifying_key(),
                i as u64,
                time::OffsetDateTime::UNIX_EPOCH,
                crate::entry::Body::Record(record.clone()),
            )
            .sign(&key)
            .unwrap();
            assert_eq!(
                content_hash_in_entry(&signed.bytes, signed.entry.kind.as_str()),
                Some(content_hash(&record)),
                "record {i}"
            );
        }
    }

    #[test]
    fn normalise_joins_tokens() {
        assert_eq!(normalise(" Idlib "), "idlib");
        assert_eq!(normalise("إدلب"), normalise("ادلب"));
        assert_eq!(normalise("ريف  دمشق"), "ريف دمشق");
    }
}
