//! axum's `Path` and `Query` extractors with their rejections answered in the API's JSON error
//! shape (axum's own answer is a plain-text 400), naming the parameter and the problem.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::HttpError;

/// Query parameters, deserialized into `T`; a malformed one is a JSON 400.
#[derive(Debug)]
pub(super) struct Query<T>(pub(super) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection| {
                HttpError::bad_request(format!("invalid query: {}", rejection.body_text()))
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
