//! One batch of a migration, re-encrypted in process: each row's header is read, rows
//! already on the target version are left alone, rows that are not a ciphertext of the key (or
//! fail authentication) are counted failed, and the rest are decrypted and encrypted again,
//! except envelope and stream values, whose embedded data key alone is rewrapped: where the
//! target can, only their head is written back, over the old one, in the database.

use crate::crypto::{Envelope, Kind};
use crate::keystore::{KeyError, KeyManager};
use crate::rotation::events::{BatchRecord, Counts, RotationEvent};
use crate::rotation::targets::{PkValue, Row, Stored, Target, Update};

/// Sorts the rows of one batch and re-encrypts, in process, those that need it: the
/// counts so far and the compare-and-swap updates to write.
pub(super) async fn prepare_batch(
    keys: &KeyManager,
    event: &RotationEvent,
    target: &Target,
    rows: Vec<Row>,
) -> Result<(BatchRecord, Vec<Update>), KeyError> {
    let to_version = event.target_version();
    // Totals, rows already current and failures are counted on the first pass only: later
    // passes only revisit rows the application changed underneath.
    let first_pass = event.pass <= 1;
    let mut counts = Counts::default();
    let mut failed_ids = Vec::new();
    let mut updates = Vec::new();
    for (i, row) in rows.into_iter().enumerate() {
        // Let the batch being written (and the rpcs sharing this runtime) make progress
        // while a large batch is re-encrypted.
        if i % YIELD_EVERY_ROWS == 0 {
            tokio::task::yield_now().await;
        }
        if first_pass {
            counts.total += 1;
        }
        let Some(stored) = target.decode(&row.stored) else {
            if first_pass {
                counts.failed += 1;
                failed_ids.push(row.pk.to_string());
            }
            continue;
        };
        let reencrypted = match stored {
            Stored::Rekey { value, vault_form } => {
                let embeds_key = match classify(&value, &event.key_name, to_version) {
                    RowState::Current => {
                        if first_pass {
                            counts.already_current += 1;
                        }
                        continue;
                    }
                    RowState::Foreign => {
                        if first_pass {
                            counts.failed += 1;
                            failed_ids.push(row.pk.to_string());
                        }
                        continue;
                    }
                    RowState::NeedsMigration { embeds_key } => embeds_key,
                };
                // An envelope value stored as is moves by its head alone, written over the
                // old head in the database: neither its payload nor its size play a part.
                if embeds_key && target.writes_heads() {
                    match keys.rewrap_head_to(&value, to_version).await {
                        Ok(new_head) => {
                            let old_head = value[..new_head.len()].to_vec();
                            updates.push(Update {
                                pk: row.pk,
                                old_stored: old_head,
                                new_stored: new_head,
                                head_only: true,
                            });
                            continue;
                        }
                        Err(e) => Err(e),
                    }
                } else {
                    keys.reencrypt_to(&value, &row.associated_data, to_version)
                        .await
                        .map(|new| (new, vault_form))
                }
            }
            // What Vault sealed under a key imported from it becomes a Rekey value, whatever
            // its version: it is always migrated, and stays in Vault's text form.
            Stored::VaultSealed { version, sealed } => keys
                .reencrypt_vault_sealed_to(
                    &event.key_name,
                    version,
                    &sealed,
                    &row.associated_data,
                    to_version,
                )
                .await
                .map(|new| (new, true)),
        };
        match reencrypted {
            Ok((new, vault_form)) => updates.push(Update {
                pk: row.pk,
                old_stored: row.stored,
                new_stored: target.encode(new, to_version, vault_form),
                head_only: false,
            }),
            // The database or the keystore itself failing stops the event; anything
            // else is a problem of this row alone.
            Err(
                e @ (KeyError::Unavailable(_)
                | KeyError::RootKeyUnavailable(_)
                | KeyError::Internal(_)),
            ) => return Err(e),
            Err(_) => {
                if first_pass {
                    counts.failed += 1;
                    failed_ids.push(row.pk.to_string());
                }
            }
        }
    }
    let record = BatchRecord {
        counts,
        failed_ids,
        ..BatchRecord::default()
    };
    Ok((record, updates))
}

/// Rows re-encrypted between two yields to the runtime (about 0.3 ms of work at 64 B).
const YIELD_EVERY_ROWS: usize = 256;

/// A batch read and re-encrypted, waiting to be written.
pub(super) struct Prepared {
    pub(super) record: BatchRecord,
    pub(super) updates: Vec<Update>,
    /// The batch's last primary key: the checkpoint once it is written.
    pub(super) last: PkValue,
}

enum RowState {
    Current,
    /// `embeds_key`: an envelope or stream ciphertext, migrated by rewrapping its data key.
    NeedsMigration {
        embeds_key: bool,
    },
    /// Not a ciphertext (or envelope ciphertext) of this key: corrupt, another key's, a
    /// signature, or plain text.
    Foreign,
}

/// Reads only the header.
fn classify(ciphertext: &[u8], key: &str, to_version: u32) -> RowState {
    match Envelope::parse(ciphertext) {
        // Envelope ciphertexts name the version wrapping their data key; migrating one
        // rewraps only that key (KeyManager::reencrypt_to).
        Ok(env)
            if matches!(
                env.kind,
                Kind::Ciphertext | Kind::EnvelopeCiphertext | Kind::StreamCiphertext
            ) && env.key_name == key =>
        {
            if env.key_version == to_version {
                RowState::Current
            } else {
                RowState::NeedsMigration {
                    embeds_key: env.kind != Kind::Ciphertext,
                }
            }
        }
        _ => RowState::Foreign,
    }
}
