use ws_core::App;

#[ws_core::main(threads = 2)]
async fn main<T>(app: &mut App, extra: u32) {}
