//! `rekey token create|list|revoke` and `rekey audit list|verify`.

use crate::admin::views::CreatedTokenJson;

use super::args::{AuditCommand, TokenCommand, TokenRole};
use super::client::Conn;
use super::exit::{CliError, Exit};
use super::json;
use super::output::{emit, emit_json, or_dash, time, Table};
use crate::proto::{
    self, CreateTokenRequest, ListAuditRequest, ListTokensRequest, RevokeTokenRequest, TokenInfo,
    VerifyAuditRequest,
};

pub(super) async fn token(conn: &Conn, command: TokenCommand) -> Result<Exit, CliError> {
    match command {
        TokenCommand::Create {
            name,
            role,
            keys,
            operations,
            expires_in_days,
        } => {
            let expires_at = expires_in_days.map(|days| prost_types::Timestamp {
                seconds: chrono::Utc::now().timestamp() + i64::from(days) * 86_400,
                nanos: 0,
            });
            let request = CreateTokenRequest {
                name,
                role: match role {
                    TokenRole::Admin => proto::TokenRole::Admin,
                    TokenRole::Client => proto::TokenRole::Client,
                } as i32,
                key_names: keys,
                operations,
                expires_at,
            };
            let created = conn.rpc().create_token(request).await?;
            let info = created.info.clone().unwrap_or_default();
            if conn.json {
                emit_json(&CreatedTokenJson {
                    token: created.token.clone(),
                    info: json::token(&info),
                })?;
            } else {
                emit(&format!(
                    "id:    {}\ntoken: {}\n",
                    info.token_id, created.token
                ))?;
                eprintln!(
                    "Store the token now: Rekey keeps only its hash and cannot show it again."
                );
            }
            Ok(Exit::Success)
        }
        TokenCommand::List => {
            let reply = conn.rpc().list_tokens(ListTokensRequest {}).await?;
            if conn.json {
                emit_json(&reply.tokens.iter().map(json::token).collect::<Vec<_>>())?;
            } else {
                emit(&token_table(&reply.tokens))?;
            }
            Ok(Exit::Success)
        }
        TokenCommand::Revoke { id } => {
            let reply = conn
                .rpc()
                .revoke_token(RevokeTokenRequest { token_id: id })
                .await?;
            let info = reply
                .token
                .ok_or_else(|| CliError::failed("the server's answer has no token in it"))?;
            if conn.json {
                emit_json(&json::token(&info))?;
            } else {
                emit(&format!(
                    "revoked {} ({}) at {}\n",
                    info.token_id,
                    info.name,
                    time(info.revoked_at.as_ref())
                ))?;
            }
            Ok(Exit::Success)
        }
    }
}

fn all_if_empty(list: &[String]) -> String {
    if list.is_empty() {
        "*".into()
    } else {
        list.join(",")
    }
}

fn token_table(tokens: &[TokenInfo]) -> String {
    let mut table = Table::new(&[
        "ID",
        "NAME",
        "ROLE",
        "KEYS",
        "OPERATIONS",
        "CREATED",
        "CREATED BY",
        "EXPIRES",
        "REVOKED",
    ]);
    for t in tokens {
        table.row(vec![
            t.token_id.clone(),
            t.name.clone(),
            json::role(t.role),
            all_if_empty(&t.key_names),
            all_if_empty(&t.operations),
            time(t.created_at.as_ref()),
            or_dash(&t.created_by),
            time(t.expires_at.as_ref()),
            time(t.revoked_at.as_ref()),
        ]);
    }
    table.render()
}

pub(super) async fn audit(conn: &Conn, command: AuditCommand) -> Result<Exit, CliError> {
    match command {
        AuditCommand::List {
            key,
            principal,
            operation,
            from,
            to,
            limit,
        } => {
            let request = ListAuditRequest {
                start_time: from,
                end_time: to,
                key_name: key.unwrap_or_default(),
                principal: principal.unwrap_or_default(),
                operation: operation.unwrap_or_default(),
                limit: limit.unwrap_or(0),
                after_seq: 0,
            };
            let reply = conn.rpc().list_audit(request).await?;
            if conn.json {
                emit_json(
                    &reply
                        .records
                        .iter()
                        .map(json::audit_record)
                        .collect::<Vec<_>>(),
                )?;
                return Ok(Exit::Success);
            }
            emit(&audit_table(&reply.records))?;
            Ok(Exit::Success)
        }
        AuditCommand::Verify => {
            let v = conn.rpc().verify_audit(VerifyAuditRequest {}).await?;
            if conn.json {
                emit_json(&json::verify(&v))?;
            } else if v.intact {
                emit(&format!(
                    "{} rows checked: intact\nhead hash: {}\n",
                    v.rows,
                    or_dash(&v.head_hash)
                ))?;
            } else {
                emit(&format!(
                    "{} rows checked: TAMPERED\nfirst fault (row {}): {}\n",
                    v.rows, v.fault_seq, v.first_fault
                ))?;
            }
            Ok(if v.intact {
                Exit::Success
            } else {
                Exit::Failed
            })
        }
    }
}

/// The audit rows as a table: the key with its version, and a dash for what is empty.
fn audit_table(records: &[crate::proto::AuditRecord]) -> String {
    let mut table = Table::new(&[
        "SEQ",
        "AT",
        "PRINCIPAL",
        "OPERATION",
        "KEY",
        "EVENT",
        "OUTCOME",
        "RECORDS",
        "DETAIL",
    ]);
    for r in records {
        let key = match (r.key_name.as_str(), r.key_version) {
            ("", _) => "-".to_owned(),
            (name, 0) => name.to_owned(),
            (name, v) => format!("{name} v{v}"),
        };
        table.row(vec![
            r.seq.to_string(),
            time(r.at.as_ref()),
            r.principal.clone(),
            r.operation.clone(),
            key,
            or_dash(&r.event_id),
            r.outcome.clone(),
            r.records.map_or("-".into(), |n| n.to_string()),
            or_dash(&r.detail),
        ]);
    }
    table.render()
}
