//! `/admin/users`: explicit routes with path parameters, in a nested module.

use std::sync::Arc;

use ws_core::HttpError;
use ws_core::http::{Json, StatusCode};
use ws_core::prelude::*;

use crate::services::{User, UserStore};

/// Explicit routes under `/admin/users`.
#[controller(prefix = "/admin/users")]
pub(crate) struct UserController {
    #[inject]
    store: Arc<UserStore>,
}

#[routes]
impl UserController {
    #[post("/")]
    async fn create(&self, name: String, age: u8) -> (StatusCode, Json<User>) {
        (StatusCode::CREATED, Json(self.store.create(name, age)))
    }

    #[get("/{id}")]
    async fn show(&self, id: u64) -> Result<Json<User>, HttpError> {
        self.store
            .get(id)
            .map(Json)
            .ok_or_else(|| HttpError::new(StatusCode::NOT_FOUND, format!("no user {id}")))
    }

    #[route(path = "/{id}/rename", methods = ["PUT", "PATCH"])]
    async fn rename(&self, id: u64, name: String) -> Result<Json<User>, HttpError> {
        let user = self.show(id).await?.0;
        self.store.remove(id);
        Ok(Json(self.store.create(name, user.age)))
    }

    #[delete("/{id}")]
    async fn remove(&self, id: u64) -> StatusCode {
        match self.store.remove(id) {
            Some(_) => StatusCode::NO_CONTENT,
            None => StatusCode::NOT_FOUND,
        }
    }
}
