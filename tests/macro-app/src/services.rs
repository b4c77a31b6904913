//! Components: singletons injected as `Arc<T>`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use ws_core::component;

/// Counts calls; injected into other components and controllers, built once.
#[component]
#[derive(Debug)]
pub struct Counter {
    hits: AtomicU64,
}

impl Counter {
    /// Counts one more and returns the total.
    pub fn hit(&self) -> u64 {
        self.hits.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct User {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its age.
    pub age: u8,
}

/// In-memory users, injected into the admin controller.
#[component]
#[derive(Debug)]
pub struct UserStore {
    users: Mutex<BTreeMap<u64, User>>,
    next: AtomicU64,
    #[inject]
    counter: Arc<Counter>,
}

impl UserStore {
    /// Stores a new user.
    pub fn create(&self, name: String, age: u8) -> User {
        self.counter.hit();
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let user = User { id, name, age };
        self.lock().insert(id, user.clone());
        user
    }

    /// The user `id`.
    pub fn get(&self, id: u64) -> Option<User> {
        self.lock().get(&id).cloned()
    }

    /// Removes the user `id`.
    pub fn remove(&self, id: u64) -> Option<User> {
        self.lock().remove(&id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, User>> {
        self.users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Room limits read from `[app.rooms]` of server.toml.
#[component]
#[derive(Debug)]
pub struct RoomPolicy {
    /// `app.rooms.max`.
    #[value("app.rooms.max")]
    pub max: u32,
    /// `app.rooms.name`, absent from the config: `None`.
    #[value("app.rooms.name")]
    pub name: Option<String>,
}
