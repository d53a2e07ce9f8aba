//! Known-answer vectors for the store's batch record (fixtures/vectors/store/,
//! docs/FORMAT.md §6.12).
//!
//! Each file is rebuilt from the inputs in the README and must match byte
//! for byte; then each is read back, and every damaged form is refused.
//! `SIJILL_WRITE_VECTORS=1 cargo test --test store_vectors` rewrites them.

use sijill::batch_intent::{BatchIntent, LEN};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/vectors/store/");

fn intent(done: bool) -> BatchIntent {
    let frames = vec![b"hello ".to_vec(), b"world".to_vec()];
    BatchIntent {
        done,
        ..BatchIntent::of(std::array::from_fn(|i| i as u8 + 1), 1234, &frames)
    }
}

fn check_vector(name: &str, expected: &BatchIntent) {
    let path = format!("{DIR}{name}");
    let bytes = expected.to_bytes();
    if std::env::var_os("SIJILL_WRITE_VECTORS").is_some() {
        std::fs::write(&path, bytes).unwrap();
    }
    let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(stored, bytes, "{name} no longer matches the code");
    assert_eq!(BatchIntent::from_bytes(&stored).as_ref(), Some(expected));
}

#[test]
fn batch_intent_vectors() {
    let writing = intent(false);
    assert_eq!(writing.len, 11);
    assert_eq!(
        hex::encode(writing.digest),
        "d74981efa70a0c880b8d8c1985d075dbcbf679b99a5f9914e5aaf96b831a9e24"
    );
    check_vector("batch-intent.writing.bin", &writing);
    check_vector("batch-intent.done.bin", &intent(true));
    // The two differ in the state byte and the check only.
    let a = intent(false).to_bytes();
    let b = intent(true).to_bytes();
    let differ: Vec<usize> = (0..LEN).filter(|&i| a[i] != b[i]).collect();
    assert!(
        differ[0] == 96 && differ[1..].iter().all(|&i| i >= 104),
        "{differ:?}"
    );
    // Damaged forms read as no record at all.
    let mut unknown_state = a;
    unknown_state[96] = 2;
    assert_eq!(BatchIntent::from_bytes(&unknown_state), None);
    assert_eq!(BatchIntent::from_bytes(&a[..LEN - 1]), None);
}
