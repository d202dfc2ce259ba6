//! The initial password of a user created in Microsoft 365. Federated users never use it (they
//! sign in at Tessera), but Graph requires one: it is strong, random, sent once, and never
//! stored or logged.

use rand::Rng as _;
use rand::seq::SliceRandom as _;
use secrecy::SecretString;

const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS: &[u8] = b"23456789";
const SYMBOLS: &[u8] = b"!#$%&*+-=?@^_~";
const LENGTH: usize = 32;

/// 32 characters with every class Entra's complexity rule counts (it needs 3 of 4).
pub fn generate() -> SecretString {
    let mut rng = rand::rngs::OsRng;
    let all: Vec<u8> = [LOWER, UPPER, DIGITS, SYMBOLS].concat();
    let mut chars: Vec<u8> = [LOWER, UPPER, DIGITS, SYMBOLS].iter().map(|set| set[rng.gen_range(0..set.len())]).collect();
    while chars.len() < LENGTH {
        chars.push(all[rng.gen_range(0..all.len())]);
    }
    chars.shuffle(&mut rng);
    SecretString::from(String::from_utf8_lossy(&chars).into_owned())
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    #[test]
    fn has_every_class_and_differs_each_time() {
        let a = generate();
        let b = generate();
        assert_ne!(a.expose_secret(), b.expose_secret());
        let p = a.expose_secret();
        assert_eq!(p.len(), LENGTH);
        for set in [LOWER, UPPER, DIGITS, SYMBOLS] {
            assert!(p.bytes().any(|c| set.contains(&c)), "{set:?}");
        }
        assert!(!format!("{a:?}").contains(p), "Debug must not print it");
    }
}
