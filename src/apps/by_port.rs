//! Several apps on one worker, each serving its own listening ports: a connection belongs to
//! the app of the port it was accepted on, for all its life.

use slotmap::SecondaryMap;

use crate::runtime::{Context, Handler};
use crate::stack::{ConnId, StackEvent};

/// An app as [`ByPort`] holds it.
pub type BoxedApp = Box<dyn Handler<Message = ()>>;

/// Hands each connection's events to the app serving the port it was accepted on.
pub struct ByPort {
    /// The apps and the ports each serves.
    apps: Vec<(Vec<u16>, BoxedApp)>,
    /// Which app (index into `apps`) owns each open connection.
    owners: SecondaryMap<ConnId, usize>,
}

impl ByPort {
    pub fn new() -> ByPort {
        ByPort {
            apps: Vec::new(),
            owners: SecondaryMap::new(),
        }
    }

    /// Adds `app` to serve the connections accepted on `ports`.
    pub fn serve(mut self, ports: Vec<u16>, app: BoxedApp) -> ByPort {
        self.apps.push((ports, app));
        self
    }

    fn app_for_port(&self, port: u16) -> Option<usize> {
        self.apps
            .iter()
            .position(|(ports, _)| ports.contains(&port))
    }
}

impl Default for ByPort {
    fn default() -> ByPort {
        ByPort::new()
    }
}

impl Handler for ByPort {
    type Message = ();

    fn on_start(&mut self, ctx: &mut Context<'_>) {
        for (_, app) in &mut self.apps {
            app.on_start(ctx);
        }
    }

    fn on_event(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: StackEvent) {
        if let StackEvent::Accepted { listen_port } = event {
            match self.app_for_port(listen_port) {
                Some(index) => {
                    self.owners.insert(conn, index);
                }
                None => {
                    // A port the stack listens on that no app serves: refuse it plainly.
                    ctx.abort(conn);
                    ctx.release(conn);
                    return;
                }
            }
        }
        let Some(&index) = self.owners.get(conn) else {
            return;
        };
        self.apps[index].1.on_event(ctx, conn, event);
        if let StackEvent::Closed { .. } = event {
            self.owners.remove(conn);
        }
    }

    fn on_tick(&mut self, ctx: &mut Context<'_>) {
        for (_, app) in &mut self.apps {
            app.on_tick(ctx);
        }
    }

    fn on_stop(&mut self, ctx: &mut Context<'_>) {
        for (_, app) in &mut self.apps {
            app.on_stop(ctx);
        }
    }
}
