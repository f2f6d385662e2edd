//! One typed method per rpc of KeyService, RotationService and AdminService. Each states, once,
//! whether the proto calls it safe to retry and whether its subject is a Rekey value (which
//! decides how INVALID_ARGUMENT reads).

use rekey_proto::admin_service_client::AdminServiceClient;
use rekey_proto::key_service_client::KeyServiceClient;
use rekey_proto::rotation_service_client::RotationServiceClient;
use rekey_proto::*;

use crate::client::{CallOptions, Client, MAX_RESPONSE_BYTES};
use crate::error::{Error, Input};
use crate::retry::Idempotency::{self, Idempotent, NotIdempotent};

macro_rules! rpcs {
    ($(
        $(#[$doc:meta])*
        $name:ident / $with:ident : $stub:ident . $method:ident ($req:ident) -> $resp:ident,
        $rpc:literal, $idem:expr, $input:expr;
    )*) => {
        impl Client {
            $(
                $(#[$doc])*
                ///
                /// # Errors
                /// The typed [`Error`] of the status the proto documents for this rpc.
                pub async fn $name(&self, request: $req) -> Result<$resp, Error> {
                    self.$with(request, &CallOptions::default()).await
                }

                #[doc = concat!("[`Client::", stringify!($name), "`] with per-call options.")]
                ///
                /// # Errors
                /// As the call without options.
                pub async fn $with(
                    &self,
                    request: $req,
                    options: &CallOptions,
                ) -> Result<$resp, Error> {
                    let idempotency: fn(&$req) -> Idempotency = $idem;
                    self.call(
                        $rpc,
                        idempotency(&request),
                        $input,
                        request,
                        options,
                        |channel, req| async move {
                            $stub::new(channel)
                                .max_decoding_message_size(MAX_RESPONSE_BYTES)
                                .$method(req)
                                .await
                        },
                    )
                    .await
                }
            )*
        }
    };
}

rpcs! {
    /// KeyService.Encrypt: encrypts on the server under the key's primary version.
    encrypt / encrypt_with: KeyServiceClient.encrypt(EncryptRequest) -> EncryptResponse,
        "Encrypt", |_| Idempotent, Input::Other;
    /// KeyService.Decrypt: decrypts a ciphertext made by Encrypt, GenerateDataKey or Rewrap.
    /// Envelope values go to [`EnvelopeCipher::decrypt`](crate::EnvelopeCipher::decrypt).
    decrypt / decrypt_with: KeyServiceClient.decrypt(DecryptRequest) -> DecryptResponse,
        "Decrypt", |_| Idempotent, Input::Value;
    /// KeyService.GenerateDataKey: a fresh data key and its wrapped form.
    generate_data_key / generate_data_key_with:
        KeyServiceClient.generate_data_key(GenerateDataKeyRequest) -> GenerateDataKeyResponse,
        "GenerateDataKey", |_| Idempotent, Input::Other;
    /// KeyService.Rewrap: re-encrypts under the primary version without returning plaintext.
    rewrap / rewrap_with: KeyServiceClient.rewrap(RewrapRequest) -> RewrapResponse,
        "Rewrap", |_| Idempotent, Input::Value;
    /// KeyService.Sign: HMAC-SHA256 under the key's primary version.
    sign / sign_with: KeyServiceClient.sign(SignRequest) -> SignResponse,
        "Sign", |_| Idempotent, Input::Other;
    /// KeyService.Verify: `valid` is false for a mismatch; errors only when it cannot check.
    verify / verify_with: KeyServiceClient.verify(VerifyRequest) -> VerifyResponse,
        "Verify", |_| Idempotent, Input::Value;
    /// KeyService.EncryptBatch: many Encrypts in one call, a result per item in order.
    /// [`Client::encrypt_many`] splits any number of items into calls within the limits.
    encrypt_batch / encrypt_batch_with:
        KeyServiceClient.encrypt_batch(EncryptBatchRequest) -> EncryptBatchResponse,
        "EncryptBatch", |_| Idempotent, Input::Other;
    /// KeyService.DecryptBatch: many Decrypts in one call ([`Client::decrypt_many`]).
    decrypt_batch / decrypt_batch_with:
        KeyServiceClient.decrypt_batch(DecryptBatchRequest) -> DecryptBatchResponse,
        "DecryptBatch", |_| Idempotent, Input::Other;
    /// KeyService.RewrapBatch: many Rewraps in one call ([`Client::rewrap_many`]).
    rewrap_batch / rewrap_batch_with:
        KeyServiceClient.rewrap_batch(RewrapBatchRequest) -> RewrapBatchResponse,
        "RewrapBatch", |_| Idempotent, Input::Other;
    /// KeyService.Rotate: a new primary version. Never retried: after UNAVAILABLE, check
    /// GetStatus before rotating again.
    rotate / rotate_with: KeyServiceClient.rotate(RotateRequest) -> RotateResponse,
        "Rotate", |_| NotIdempotent, Input::Other;
    /// KeyService.Rollback: the previous version becomes primary again. Never retried.
    rollback / rollback_with: KeyServiceClient.rollback(RollbackRequest) -> RollbackResponse,
        "Rollback", |_| NotIdempotent, Input::Other;
    /// KeyService.GetStatus: lifecycle status of one key, or of all with an empty name.
    get_status / get_status_with: KeyServiceClient.get_status(GetStatusRequest) -> GetStatusResponse,
        "GetStatus", |_| Idempotent, Input::Other;

    /// RotationService.GetImpact: stored records per key version.
    get_impact / get_impact_with: RotationServiceClient.get_impact(GetImpactRequest) -> GetImpactResponse,
        "GetImpact", |_| Idempotent, Input::Other;
    /// RotationService.ScheduleRotation: rotates if due, or at once with `force`. Retried only
    /// without `force` (then a duplicate finds the key no longer due and changes nothing).
    schedule_rotation / schedule_rotation_with:
        RotationServiceClient.schedule_rotation(ScheduleRotationRequest) -> ScheduleRotationResponse,
        "ScheduleRotation",
        |r| if r.force { NotIdempotent } else { Idempotent }, Input::Other;
    /// RotationService.GetSchedule: last and next rotation per key.
    get_schedule / get_schedule_with:
        RotationServiceClient.get_schedule(GetScheduleRequest) -> GetScheduleResponse,
        "GetSchedule", |_| Idempotent, Input::Other;
    /// RotationService.GetEvent: one rotation event.
    get_event / get_event_with: RotationServiceClient.get_event(GetEventRequest) -> GetEventResponse,
        "GetEvent", |_| Idempotent, Input::Other;
    /// RotationService.ListEvents: events, newest first.
    list_events / list_events_with:
        RotationServiceClient.list_events(ListEventsRequest) -> ListEventsResponse,
        "ListEvents", |_| Idempotent, Input::Other;
    /// RotationService.ExecuteEvent: runs or continues an event's migration now.
    execute_event / execute_event_with:
        RotationServiceClient.execute_event(ExecuteEventRequest) -> ExecuteEventResponse,
        "ExecuteEvent", |_| Idempotent, Input::Other;
    /// RotationService.RetryEvent: resumes a failed event from its checkpoint.
    retry_event / retry_event_with:
        RotationServiceClient.retry_event(RetryEventRequest) -> RetryEventResponse,
        "RetryEvent", |_| Idempotent, Input::Other;
    /// RotationService.RollbackEvent: rolls an event back. Not retried by the client: it
    /// changes which version is primary, so the caller looks (GetEvent) before asking again.
    rollback_event / rollback_event_with:
        RotationServiceClient.rollback_event(RollbackEventRequest) -> RollbackEventResponse,
        "RollbackEvent", |_| NotIdempotent, Input::Other;

    /// AdminService.CreateToken: a new API token (its secret is in the answer, once). Never
    /// retried: each call creates a token.
    create_token / create_token_with:
        AdminServiceClient.create_token(CreateTokenRequest) -> CreateTokenResponse,
        "CreateToken", |_| NotIdempotent, Input::Other;
    /// AdminService.ListTokens: every token, without secrets.
    list_tokens / list_tokens_with:
        AdminServiceClient.list_tokens(ListTokensRequest) -> ListTokensResponse,
        "ListTokens", |_| Idempotent, Input::Other;
    /// AdminService.RevokeToken.
    revoke_token / revoke_token_with:
        AdminServiceClient.revoke_token(RevokeTokenRequest) -> RevokeTokenResponse,
        "RevokeToken", |_| Idempotent, Input::Other;
    /// AdminService.ListAudit: audit records after `after_seq`.
    list_audit / list_audit_with: AdminServiceClient.list_audit(ListAuditRequest) -> ListAuditResponse,
        "ListAudit", |_| Idempotent, Input::Other;
    /// AdminService.VerifyAudit: checks the audit hash chain.
    verify_audit / verify_audit_with:
        AdminServiceClient.verify_audit(VerifyAuditRequest) -> VerifyAuditResponse,
        "VerifyAudit", |_| Idempotent, Input::Other;
    /// AdminService.GetReport: a typed usage or compliance report.
    get_report / get_report_with: AdminServiceClient.get_report(GetReportRequest) -> GetReportResponse,
        "GetReport", |_| Idempotent, Input::Other;
}
