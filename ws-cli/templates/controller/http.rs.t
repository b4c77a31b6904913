//! `{{struct_name}}`: HTTP routes on server `{{server}}`, under `{{prefix}}`.

use ws_core::prelude::*;

/// Every `pub async fn` below answers GET, POST and HEAD at `{{route_pattern}}`, its parameters
/// bound by name from the path, the query string, or a form or JSON body.
#[controller(server = "{{server}}", prefix = "{{prefix}}")]
pub struct {{struct_name}} {
    #[inject]
    sender: Sender,
}

#[auto_routes]
impl {{struct_name}} {
    /// `{{index_path}}`: the number of connections on this node.
    pub async fn index(&self) -> String {
        self.sender.local_count().to_string()
    }

    /// `{{push_path}}?fd=N&msg=TEXT`: pushes TEXT to connection N, on any node.
    pub async fn push(&self, fd: Fd, msg: String) -> Result<&'static str> {
        self.sender.push(fd, msg).await?;
        Ok("")
    }
}
