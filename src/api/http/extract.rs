//! axum's `Path` and `Query` extractors with their rejections answered in the API's JSON error
//! shape (axum's own answer is a plain-text 400), naming the parameter and the problem; and
//! what a caller presents to authenticate.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::HttpError;
use crate::api::guard::Credentials;
use crate::tls::ClientSubject;

/// What an HTTP caller presents: its `authorization` header, its address and, over HTTPS with
/// `client_ca_file`, the subject of its verified client certificate.
#[derive(Debug)]
pub(super) struct HttpCredentials {
    authorization: Option<String>,
    peer: Option<SocketAddr>,
    certificate: ClientSubject,
}

impl HttpCredentials {
    pub(super) fn borrowed(&self) -> Credentials<'_> {
        Credentials {
            certificate: self.certificate.0.as_deref(),
            authorization: self.authorization.as_deref(),
            peer: self.peer.map(|p| p.ip()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for HttpCredentials {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            authorization: parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            peer: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| *addr),
            // Plain HTTP (and HTTPS without a client certificate) has none.
            certificate: parts
                .extensions
                .get::<ClientSubject>()
                .cloned()
                .unwrap_or_default(),
        })
    }
}

/// Query parameters, deserialized into `T`; a malformed one is a JSON 400.
#[derive(Debug)]
pub(super) struct Query<T>(pub(super) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let query = crate::excerpt::excerpt(parts.uri.query().unwrap_or(""), 80);
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection| {
                // axum's text leads with its own prefix; the cause is the part after it
                // ("limit: invalid digit found in string"), and the value is named here.
                let text = rejection.body_text();
                let cause = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                HttpError::bad_request(format!("invalid query string {query:?}: {cause}"))
            })
    }
}

/// Path parameters, deserialized into `T`; a malformed one (not UTF-8) is a JSON 400.
#[derive(Debug)]
pub(super) struct Path<T>(pub(super) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|rejection| {
                HttpError::bad_request(format!("invalid path: {}", rejection.body_text()))
            })
    }
}
