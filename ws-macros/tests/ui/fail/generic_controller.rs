use ws_core::prelude::*;

#[ws_controller(server = "ws", path = "/")]
pub struct Chat<T> {
    value: T,
}

#[component]
pub struct Cache<'a>
where
    Self: 'a,
{
    name: &'a str,
}

fn main() {}
