//! Canonical JSON (RFC 8785) and Ed25519 signatures over it (PROTOCOL.md §8).
//!
//! Signed documents are JSON objects restricted to ASCII keys, strings, integers below 2^53,
//! arrays and objects — no floats, no null — serialised with JCS. A signature covers
//! `enc(tag "sign/<kind>", JCS bytes)` (the §2 encoding), so a checkpoint signature can never pass
//! as a manifest signature, nor a rehearsal's as a real round's.

use crate::digest::{Digest, parse_hex_bytes};
use crate::encoding::{Domain, encode_fields};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde_json::Value;

/// JSON that is not allowed in a signed document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JcsError {
    /// A float, a null, an integer ≥ 2^53, a non-ASCII key.
    #[error("{path}: {reason}")]
    NotAllowed {
        /// JSON path of the value.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// Serialisation failed.
    #[error("canonical JSON: {0}")]
    Serialize(String),
}

/// Checks the value is inside the protocol's JSON subset.
pub fn check_subset(v: &Value, path: &str) -> Result<(), JcsError> {
    match v {
        Value::Null => Err(JcsError::NotAllowed {
            path: path.into(),
            reason: "null is not allowed",
        }),
        Value::Bool(_) | Value::String(_) => Ok(()),
        Value::Number(n) => match n.as_u64() {
            Some(u) if u < (1 << 53) => Ok(()),
            _ => Err(JcsError::NotAllowed {
                path: path.into(),
                reason: "only integers 0 ≤ n < 2^53 are allowed",
            }),
        },
        Value::Array(a) => a
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| check_subset(x, &format!("{path}[{i}]"))),
        Value::Object(o) => o.iter().try_for_each(|(k, x)| {
            if !k.is_ascii() {
                return Err(JcsError::NotAllowed {
                    path: path.into(),
                    reason: "keys must be ASCII",
                });
            }
            check_subset(x, &format!("{path}.{k}"))
        }),
    }
}

/// RFC 8785 canonical bytes of a value in the protocol subset.
pub fn jcs(v: &Value) -> Result<Vec<u8>, JcsError> {
    check_subset(v, "$")?;
    serde_json_canonicalizer::to_vec(v).map_err(|e| JcsError::Serialize(e.to_string()))
}

/// The bytes a signature covers: `enc(tag "sign/<kind>", jcs)`.
pub fn signing_message(domain: Domain, kind: &str, jcs_bytes: &[u8]) -> Vec<u8> {
    encode_fields(&domain.tag(&format!("sign/{kind}")), &[jcs_bytes])
}

/// One signature entry as published: `{"signer", "public_key", "signature"}` (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureEntry {
    /// Role and name, e.g. `bureau` or `notary:张敏`-free ASCII id such as `notary-1`.
    pub signer: String,
    /// 32-byte Ed25519 public key.
    pub public_key: [u8; 32],
    /// 64-byte signature.
    pub signature: [u8; 64],
}

impl SignatureEntry {
    /// As JSON.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "signer": self.signer,
            "public_key": hex::encode(self.public_key),
            "signature": hex::encode(self.signature),
        })
    }

    /// From JSON.
    pub fn from_json(v: &Value) -> Result<SignatureEntry, String> {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("missing string {k:?}"))
        };
        let pk = parse_hex_bytes(s("public_key")?).map_err(|e| format!("public_key: {e}"))?;
        let sig = parse_hex_bytes(s("signature")?).map_err(|e| format!("signature: {e}"))?;
        Ok(SignatureEntry {
            signer: s("signer")?.to_string(),
            public_key: pk
                .try_into()
                .map_err(|_| "public_key must be 32 bytes".to_string())?,
            signature: sig
                .try_into()
                .map_err(|_| "signature must be 64 bytes".to_string())?,
        })
    }
}

/// Signs a canonical document.
pub fn sign(
    domain: Domain,
    kind: &str,
    jcs_bytes: &[u8],
    signer: &str,
    key: &SigningKey,
) -> SignatureEntry {
    let sig = key.sign(&signing_message(domain, kind, jcs_bytes));
    SignatureEntry {
        signer: signer.to_string(),
        public_key: key.verifying_key().to_bytes(),
        signature: sig.to_bytes(),
    }
}

/// Why a signature failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The public key is not a valid point (or weak).
    #[error("signer {signer}: invalid public key")]
    BadKey {
        /// Signer.
        signer: String,
    },
    /// `verify_strict` refused it.
    #[error("signer {signer}: the signature does not match the document")]
    Mismatch {
        /// Signer.
        signer: String,
    },
}

/// Verifies with `verify_strict` (rejects small-order keys and non-canonical signatures).
pub fn verify(
    domain: Domain,
    kind: &str,
    jcs_bytes: &[u8],
    e: &SignatureEntry,
) -> Result<(), SignatureError> {
    let vk = VerifyingKey::from_bytes(&e.public_key).map_err(|_| SignatureError::BadKey {
        signer: e.signer.clone(),
    })?;
    // Only the canonical encoding of a point is a key (PROTOCOL.md §8.2): an encoding with
    // y ≥ p decodes to the same point but is refused, so that every verifier agrees.
    if vk.to_edwards().compress().to_bytes() != e.public_key {
        return Err(SignatureError::BadKey {
            signer: e.signer.clone(),
        });
    }
    let sig = Signature::from_bytes(&e.signature);
    vk.verify_strict(&signing_message(domain, kind, jcs_bytes), &sig)
        .map_err(|_| SignatureError::Mismatch {
            signer: e.signer.clone(),
        })
}

/// A key fingerprint: the first 16 hex digits of SHA-256 of the public key.
pub fn fingerprint(public_key: &[u8; 32]) -> String {
    crate::encoding::sha256(public_key).to_hex()[..16].to_string()
}

/// Derives a signing key from 32 secret bytes.
pub fn signing_key(secret: &[u8; 32]) -> SigningKey {
    SigningKey::from_bytes(secret)
}

/// Convenience: a digest as a JSON string.
pub fn hex_value(d: &Digest) -> Value {
    Value::String(d.to_hex())
}

/// An Ed25519 signing key (re-exported so binaries need no direct dependency).
pub type Key = SigningKey;

/// Parses a `fairdraw-key-v1` key file: lines `signer=…`, `secret=<64 hex>`, `public=<64 hex>`.
pub fn parse_key_file(text: &str) -> Result<(String, SigningKey), String> {
    let mut lines = text.lines();
    if lines.next() != Some("fairdraw-key-v1") {
        return Err("not a fairdraw-key-v1 key file".into());
    }
    let mut signer = None;
    let mut secret = None;
    let mut public = None;
    for l in lines {
        match l.split_once('=') {
            Some(("signer", v)) => signer = Some(v.to_string()),
            Some(("secret", v)) => {
                secret = Some(Digest::from_hex(v).map_err(|e| format!("secret: {e}"))?)
            }
            Some(("public", v)) => {
                public = Some(Digest::from_hex(v).map_err(|e| format!("public: {e}"))?)
            }
            _ => {}
        }
    }
    let signer = signer.ok_or("no signer= line")?;
    let key = SigningKey::from_bytes(&secret.ok_or("no secret= line")?.0);
    if public.map(|p| p.0) != Some(key.verifying_key().to_bytes()) {
        return Err("the public key does not belong to the secret key".into());
    }
    Ok((signer, key))
}

/// Writes a `fairdraw-key-v1` key file body.
pub fn key_file(signer: &str, key: &SigningKey) -> String {
    format!(
        "fairdraw-key-v1\nsigner={signer}\nsecret={}\npublic={}\n",
        hex::encode(key.to_bytes()),
        hex::encode(key.verifying_key().to_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 §7.1 TEST 1 and TEST 2.
    #[test]
    fn ed25519_rfc8032_vectors() {
        let cases = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
        ];
        for (sk, pk, msg, sig) in cases {
            let sk: [u8; 32] = hex::decode(sk)
                .unwrap_or_default()
                .try_into()
                .unwrap_or([0; 32]);
            let key = SigningKey::from_bytes(&sk);
            assert_eq!(hex::encode(key.verifying_key().to_bytes()), pk);
            let m = hex::decode(msg).unwrap_or_default();
            let s = key.sign(&m);
            assert_eq!(hex::encode(s.to_bytes()), sig);
            assert!(key.verifying_key().verify_strict(&m, &s).is_ok());
        }
    }

    /// RFC 8785 §3.2.2/§3.2.3 style examples: key ordering, whitespace, string escaping.
    #[test]
    fn jcs_rfc8785_examples() {
        let v: Value =
            serde_json::from_str(r#"{"b": [1, "x"], "a": {"z": true, "y": "\u20ac\n"}, "\r": 0}"#)
                .unwrap_or(Value::Null);
        let out = jcs(&v).unwrap_or_default();
        assert_eq!(
            String::from_utf8_lossy(&out),
            "{\"\\r\":0,\"a\":{\"y\":\"€\\n\",\"z\":true},\"b\":[1,\"x\"]}"
        );
        // RFC 8785 §3.2.3: sorting by UTF-16 code units.
        let v: Value = serde_json::from_str(
            r#"{"\u20ac": 1, "\r": 2, "1": 3, "\u0080": 4, "\ud83d\ude00": 5, "\ufb33": 6}"#,
        )
        .unwrap_or(Value::Null);
        let s = serde_json_canonicalizer::to_string(&v).unwrap_or_default();
        assert_eq!(
            s,
            "{\"\\r\":2,\"1\":3,\"\u{80}\":4,\"€\":1,\"😀\":5,\"\u{fb33}\":6}"
        );
    }

    #[test]
    fn subset_refuses_floats_nulls_and_big_integers() {
        for bad in [
            r#"{"a":1.5}"#,
            r#"{"a":null}"#,
            r#"{"a":9007199254740992}"#,
            r#"{"a":-1}"#,
        ] {
            let v: Value = serde_json::from_str(bad).unwrap_or(Value::Null);
            assert!(jcs(&v).is_err(), "{bad}");
        }
    }

    #[test]
    fn signatures_bind_kind_and_domain() {
        let key = signing_key(&[9u8; 32]);
        let doc = b"{\"a\":1}";
        let e = sign(Domain::Real, "manifest", doc, "bureau", &key);
        assert!(verify(Domain::Real, "manifest", doc, &e).is_ok());
        assert!(verify(Domain::Real, "checkpoint", doc, &e).is_err());
        assert!(verify(Domain::Rehearsal, "manifest", doc, &e).is_err());
        assert!(verify(Domain::Real, "manifest", b"{\"a\":2}", &e).is_err());
        let back = SignatureEntry::from_json(&e.to_json());
        assert_eq!(back, Ok(e));
    }
}
