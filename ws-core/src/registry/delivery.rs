//! Commands from other nodes, applied to this node's connections.

use super::Registry;
use crate::cluster::{Command, LocalDelivery, Reply};
use crate::ws::message::close_frame;

impl LocalDelivery for Registry {
    fn apply(&self, command: Command) -> Reply {
        match command {
            Command::Push { fd, message } => Reply::from(self.push(fd, message)),
            Command::Disconnect { fd, code, reason } => {
                Reply::from(self.close(fd, close_frame(code, &reason)))
            }
            Command::Exists { fd } => Reply::Exists(self.contains(fd)),
            Command::Broadcast { message, except } => {
                Reply::Delivered(self.broadcast(&message, except).local)
            }
            Command::RoomPush {
                room,
                message,
                except,
            } => Reply::Delivered(self.push_room(&room, &message, except).local),
            Command::RoomMembers { room } => Reply::Members(self.room_members(&room)),
            Command::Describe {
                rooms,
                except,
                meta_key,
            } => Reply::Described(self.describe(&rooms, &except, &meta_key)),
            Command::Notice { topic, body } => {
                Reply::Delivered(self.notify(super::Notice { topic, body }))
            }
        }
    }
}
