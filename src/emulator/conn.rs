//! Closing a connection without answering, for the `drop` fault.
//!
//! actix-web always writes a response, so the emulator keeps its own handle on each
//! accepted socket (a duplicated descriptor, taken in `on_connect`) and shuts the socket
//! down under the request. The client then sees the connection close before any byte of
//! an answer, like a load balancer resetting it.

use std::any::Any;
use std::net::Shutdown;
use std::sync::Arc;

use actix_web::dev::Extensions;
use actix_web::{HttpRequest, HttpResponse, web};

/// The duplicated socket of one connection.
pub(crate) struct ConnSocket(Arc<std::net::TcpStream>);

/// `HttpServer::on_connect` hook: remembers the connection's socket.
pub(crate) fn remember_socket(conn: &dyn Any, ext: &mut Extensions) {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>()
            && let Ok(fd) = tcp.as_fd().try_clone_to_owned()
        {
            ext.insert(ConnSocket(Arc::new(std::net::TcpStream::from(fd))));
        }
    }
    #[cfg(not(unix))]
    let _ = (conn, ext);
}

/// Shuts the request's connection down and returns a response that cannot be delivered.
///
/// Where no socket handle exists, the response body fails on its first poll, which makes
/// actix-web abort the connection instead (the client may then see the status line).
pub(crate) fn drop_connection(req: &HttpRequest) -> HttpResponse {
    if let Some(ConnSocket(socket)) = req.conn_data::<ConnSocket>() {
        let _ = socket.shutdown(Shutdown::Both);
    }
    HttpResponse::Ok().streaming(futures::stream::once(async {
        Err::<web::Bytes, std::io::Error>(std::io::Error::other("connection dropped by fault injection"))
    }))
}
