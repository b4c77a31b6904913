#[ws_core::main]
async fn main(app: &mut String) {
    app.push('x');
}
